import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { AppContext, Services } from './app-context';
import type { Config } from './config';
import { openDatabase } from './db/open-database';
import { migrateToLatest } from './db/migrator';
import type { DB } from './db/schema';
import { createHttpServer } from './http/server';
import { allJobs } from './jobs';
import { JobRunner } from './jobs/job-runner';
import { startDiscord, type DiscordRuntime } from './discord/discord-runtime';
import type { Logger } from './logger';
import { createMetrics, type Metrics } from './metrics';
import { UsersService } from './modules/users/users.service';

export interface App {
  ctx: AppContext;
  metrics: Metrics;
  http: FastifyInstance;
  /** Base URL the HTTP server listens on. */
  httpUrl: string;
  jobs: JobRunner;
  /** Present when DISCORD_TOKEN is set (the sandbox sets it to the emulator's). */
  discord?: DiscordRuntime;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Register slash commands on start (the sandbox's fresh emulator needs it; production uses deploy-commands). */
  deployCommands?: boolean;
}

export function createServices(db: Kysely<DB>): Services {
  return { users: new UsersService(db) };
}

/**
 * Wires config → database → services → HTTP and jobs. Every started part is registered for shutdown
 * immediately, so a failure half-way through still releases what was started.
 */
export async function startApp(config: Config, log: Logger, options: StartOptions = {}): Promise<App> {
  const stops: (() => Promise<unknown>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) {
      try {
        await stop();
      } catch (err) {
        log.error({ err }, 'error during shutdown');
      }
    }
    stops.length = 0;
  };

  try {
    const { db, close } = await openDatabase(config, log);
    stops.push(close);

    if (config.MIGRATE_ON_START) {
      const applied = await migrateToLatest(db);
      if (applied.length) log.info({ applied }, 'migrations applied');
    }

    const metrics = createMetrics();
    const ctx: AppContext = { config, log, db, services: createServices(db) };

    const http = await createHttpServer({ ctx, metrics });
    stops.push(() => http.close());
    await http.listen({ host: config.HTTP_HOST, port: config.HTTP_PORT });
    const address = http.server.address();
    const httpUrl =
      typeof address === 'object' && address ? `http://${config.HTTP_HOST}:${address.port}` : `http://${config.HTTP_HOST}`;

    // Links sent to users (wallet-link page) need a reachable base; default to where we actually listen.
    if (!config.PUBLIC_URL) ctx.config = { ...config, PUBLIC_URL: httpUrl };

    let discord: DiscordRuntime | undefined;
    if (config.DISCORD_TOKEN) {
      const appId = config.DISCORD_APP_ID;
      if (options.deployCommands && !appId) throw new Error('deploying commands needs DISCORD_APP_ID');
      discord = await startDiscord(ctx, {
        token: config.DISCORD_TOKEN,
        ...(config.DISCORD_API_URL ? { apiUrl: config.DISCORD_API_URL } : {}),
        ...(options.deployCommands && appId
          ? { deploy: { appId, ...(config.DISCORD_GUILD_ID ? { guildId: config.DISCORD_GUILD_ID } : {}) } }
          : {}),
      });
      stops.push(() => discord!.stop());
    }

    const jobs = new JobRunner(ctx, allJobs, metrics);
    if (config.JOBS_ENABLED) jobs.start();
    stops.push(() => jobs.stop());

    metrics.up.set(1);
    return { ctx, metrics, http, httpUrl, jobs, ...(discord ? { discord } : {}), stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
