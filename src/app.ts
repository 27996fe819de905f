import type { RESTOptions } from 'discord.js';
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { AppContext, Effects, Services } from './app-context';
import type { AppModule } from './app-module';
import { ChainService } from './chain/chain.service';
import { parseConfig, type Config } from './config';
import { waitForDatabase } from './db/wait-for-database';
import { migrateToLatest } from './db/migrator';
import { openDatabase } from './db/open-database';
import type { DB } from './db/schema';
import { createDiscordClient, watchGatewayHealth } from './discord/discord-client';
import { startDiscord, type DiscordRuntime, type DiscordRuntimeOptions } from './discord/discord-runtime';
import { createHttpServer } from './http/server';
import { JobRunner } from './jobs/job-runner';
import type { Logger } from './logger';
import { observeDms } from './discord/dm';
import { createMetrics, type Metrics } from './metrics';
import { appModules } from './modules';
import { DepositsService } from './modules/deposits/deposits.service';
import { Currencies } from './modules/ledger/currencies';
import { LedgerService } from './modules/ledger/ledger.service';
import { QuotaService } from './modules/quota/quota.service';
import { SolvencyService } from './modules/solvency/solvency.service';
import { TicketsService } from './modules/tickets/tickets.service';
import { UsersService } from './modules/users/users.service';
import { WalletsService } from './modules/wallets/wallets.service';
import { WithdrawalsService, withdrawalLimitsFromConfig } from './modules/withdrawals/withdrawals.service';
import { checkEmbeddedPostgres, closeServer, databaseStartError, listenHttp, throwIfAborted } from './startup';
import { GuildsService } from './modules/guilds/guilds.service';
import { BadgesService } from './modules/badges/badges.service';
import { WebhooksService } from './modules/webhooks/webhooks.service';
import { BillingService } from './modules/billing/billing.service';

export interface App {
  ctx: AppContext;
  metrics: Metrics;
  http: FastifyInstance;
  /** Base URL the HTTP server listens on. */
  httpUrl: string;
  jobs: JobRunner;
  /** Present when DISCORD_TOKEN is set (the sandbox and the e2e tests set it to the emulator's). */
  discord?: DiscordRuntime;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Register slash commands on start (the sandbox's fresh emulator needs it; production uses deploy-commands). */
  deployCommands?: boolean;
  /** Cancels start-up (a signal during start): what was started is stopped and startApp rejects with StartAborted. */
  signal?: AbortSignal;
  /** See DiscordRuntimeOptions.extend; production never passes it. */
  extendRegistry?: DiscordRuntimeOptions['extend'];
  /** Extra discord.js REST options; load tests lift the global rate limit. */
  discordRest?: Partial<RESTOptions>;
}

/** The domain services with their ports. Without `effects` (service tests, workers) nothing is sent anywhere. */
export function createServices(
  db: Kysely<DB>,
  metrics?: Metrics,
  config: Config = parseConfig({}),
  log?: Logger,
  effects: Effects = {},
): Services {
  const chain = new ChainService(config);
  const currencies = Currencies.fromConfig(config);
  const users = new UsersService(db);
  const wallets = new WalletsService(db, metrics, effects.wallets);
  // Payouts and badges go only to the member's verified wallet.
  const walletOf = async (discordId: string) => (await wallets.status(discordId)).wallet?.address;
  const withdrawals = new WithdrawalsService(
    db,
    chain,
    currencies,
    walletOf,
    { maxAttempts: config.WITHDRAW_MAX_ATTEMPTS, notify: effects.withdrawals, limits: withdrawalLimitsFromConfig(config), metrics },
    log,
  );
  const badges = new BadgesService(db, chain, walletOf, config, metrics, log);
  // The partner API's reputation endpoint reads the badges module's score (tier + score only; components stay inside).
  const reputation = {
    reputation: async (discordId: string) => {
      const r = await badges.reputation(discordId);
      return r ? { tier: r.tier, score: r.score } : undefined;
    },
  };
  return {
    chain,
    badges,
    billing: new BillingService(db, config, currencies, chain),
    deposits: new DepositsService(db, chain, currencies, { ttlMinutes: config.DEPOSIT_TTL_MINUTES, notify: effects.deposits }, log),
    guilds: new GuildsService(db, config, effects.guildDirectory),
    ledger: new LedgerService(db, config),
    quota: new QuotaService(db, config, log, reputation),
    solvency: new SolvencyService(db, chain, currencies, withdrawals, metrics, log),
    tickets: new TicketsService(db, users, metrics),
    users,
    wallets,
    webhooks: new WebhooksService(db, config, metrics, log, effects.webhooks),
    withdrawals,
  };
}

/** Every module's Discord ports bound to one client; a module may only provide ports no other module does. */
function moduleEffects(modules: readonly AppModule[], deps: Parameters<NonNullable<AppModule['discord']>>[0]): Effects {
  const effects: Effects = {};
  for (const m of modules) {
    for (const [port, impl] of Object.entries(m.discord?.(deps) ?? {})) {
      if (port in effects) throw new Error(`module ${m.name}: the ${port} effects are already provided by another module`);
      Object.assign(effects, { [port]: impl });
    }
  }
  return effects;
}

/**
 * The one composition root, used by `npm start` (directly or through the sandbox) and the e2e tests alike:
 * database → HTTP listener (so PUBLIC_URL is known) → Discord client (not logged in) → each module's ports →
 * services → context → HTTP routes → commands, router, login → jobs. Every started part is registered for shutdown
 * immediately, so a failure or an abort half-way through still releases what was started.
 */
export async function startApp(config: Config, log: Logger, options: StartOptions = {}): Promise<App> {
  const modules = appModules;
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
  const checkpoint = () => throwIfAborted(options.signal);

  try {
    checkpoint();
    if (!config.DATABASE_URL) await checkEmbeddedPostgres(config);
    const { db, close } = await openDatabase(config, log);
    stops.push(close);
    checkpoint();
    await waitForDatabase(db, {
      timeoutMs: config.DB_CONNECT_TIMEOUT_SECONDS * 1000,
      signal: options.signal,
      onRetry: (err, attempt) => log.warn({ err, attempt }, 'database not reachable yet; retrying'),
    }).catch((err: unknown) => Promise.reject(databaseStartError(err, config)));
    if (config.MIGRATE_ON_START) {
      const applied = await migrateToLatest(db);
      if (applied.length) log.info({ applied }, 'migrations applied');
    }
    checkpoint();

    const listener = await listenHttp(config);
    stops.push(() => closeServer(listener.server));
    // Links sent to users (wallet-link page) need a reachable base; default to where we actually listen.
    const appConfig: Config = config.PUBLIC_URL ? config : { ...config, PUBLIC_URL: listener.url };

    const client = appConfig.DISCORD_TOKEN
      ? createDiscordClient({
          token: appConfig.DISCORD_TOKEN,
          // Replicas split the gateway: each runs SHARD_IDS of SHARD_COUNT; one process alone runs what Discord recommends.
          shards: appConfig.SHARD_COUNT ? { count: appConfig.SHARD_COUNT, ...(appConfig.SHARD_IDS ? { ids: appConfig.SHARD_IDS } : {}) } : 'auto',
          ...(appConfig.DISCORD_API_URL ? { apiUrl: appConfig.DISCORD_API_URL } : {}),
          ...(options.discordRest ? { rest: options.discordRest } : {}),
        })
      : undefined;
    if (client) stops.push(() => client.destroy());
    const effects = client ? moduleEffects(modules, { client, log, config: appConfig }) : {};

    const metrics = createMetrics();
    if (client) observeDms(client, { log, undelivered: metrics.dmsUndelivered });
    const ctx: AppContext = { config: appConfig, log, db, services: createServices(db, metrics, appConfig, log, effects), effects };
    const promoted = await ctx.services.users.seedOperators(appConfig.BOT_OPERATOR_IDS);
    if (promoted.length) log.info({ operators: promoted }, 'operators from BOT_OPERATOR_IDS');
    // Stopped after HTTP (registered before it): the last usage counts are flushed once no request can add more.
    stops.push(() => ctx.services.quota.stop());

    const http = await createHttpServer({
      ctx,
      metrics,
      server: listener.server,
      ...(client ? { readinessChecks: { discordGateway: watchGatewayHealth(client) } } : {}),
      plugins: modules.flatMap((m) => m.routes ?? []),
      adminPlugins: modules.flatMap((m) => m.adminRoutes ?? []),
    });
    stops.push(() => http.close());
    await http.ready();
    checkpoint();

    let discord: DiscordRuntime | undefined;
    if (client) {
      const appId = appConfig.DISCORD_APP_ID;
      if (options.deployCommands && !appId) throw new Error('deploying commands needs DISCORD_APP_ID');
      discord = await startDiscord(ctx, client, {
        ...(options.deployCommands && appId
          ? { deploy: { appId, ...(appConfig.DISCORD_GUILD_ID ? { guildId: appConfig.DISCORD_GUILD_ID } : {}) } }
          : {}),
        ...(options.extendRegistry ? { extend: options.extendRegistry } : {}),
      });
      const runtime = discord;
      stops.push(() => runtime.stop());
      checkpoint();
    }

    const jobs = new JobRunner(ctx, modules.flatMap((m) => m.jobs ?? []), metrics);
    if (appConfig.JOBS_ENABLED) jobs.start();
    stops.push(() => jobs.stop());

    metrics.up.set(1);
    return { ctx, metrics, http, httpUrl: listener.url, jobs, ...(discord ? { discord } : {}), stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
