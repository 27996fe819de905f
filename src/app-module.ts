import type { Client } from 'discord.js';
import type { Effects } from './app-context';
import type { Config } from './config';
import type { HttpServerDeps } from './http/server';
import type { Job } from './jobs/job';
import type { Logger } from './logger';

/** What a module's Discord adapters are built from: no services (they get what they need as call arguments). */
export interface DiscordDeps {
  /** Not logged in yet when the effects are built; they only use it later. */
  client: Client;
  log: Logger;
  config: Config;
}

/**
 * How a module plugs into the app: everything it adds besides its commands and components (those are discovered
 * from disk) is declared here, once, and consumed by the composition root (src/app.ts) for production, the sandbox
 * and the e2e tests alike. List new modules in src/modules/index.ts.
 */
export interface AppModule {
  name: string;
  /** Public HTTP routes (wallet-link page, partner API…). */
  routes?: NonNullable<HttpServerDeps['plugins']>;
  /** Operator routes under the bearer-guarded /admin scope. */
  adminRoutes?: NonNullable<HttpServerDeps['adminPlugins']>;
  /** Scheduled jobs (cluster-wide single run per tick). */
  jobs?: readonly Job[];
  /** The module's Discord side effects (its ports), built only when a Discord client is configured. */
  discord?: (deps: DiscordDeps) => Effects;
}

export const defineModule = (module: AppModule): AppModule => module;
