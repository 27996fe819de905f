import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { AppContext, Services } from './app-context';
import { parseConfig, type Config } from './config';
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
import { TicketsService } from './modules/tickets/tickets.service';
import { createDiscordWalletNotifier } from './modules/wallets/discord-wallet-notifier';
import { ticketDiscordEffects } from './modules/tickets/tickets.discord';
import { walletRoutes } from './modules/wallets/wallets.routes';
import { ticketAdminRoutes } from './modules/tickets/tickets.routes';
import { WalletsService } from './modules/wallets/wallets.service';
import { LedgerService } from './modules/ledger/ledger.service';
import { airdropDiscordEffects } from './modules/ledger/ledger.discord';
import { ChainService } from './chain/chain.service';
import { Currencies } from './modules/ledger/currencies';
import { DepositsService } from './modules/deposits/deposits.service';
import { SolvencyService } from './modules/solvency/solvency.service';
import { WithdrawalsService } from './modules/withdrawals/withdrawals.service';
import { wirePaymentNotifiers } from './modules/deposits/discord-payment-notifier';
import { withdrawalAdminRoutes } from './modules/withdrawals/withdrawals.routes';
import { BadgesService } from './modules/badges/badges.service';
import { badgeAdminRoutes, badgeRoutes } from './modules/badges/badges.routes';

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

export function createServices(db: Kysely<DB>, metrics?: Metrics, config: Config = parseConfig({}), log?: Logger): Services {
  const chain = new ChainService(config);
  const currencies = Currencies.fromConfig(config);
  const users = new UsersService(db);
  const wallets = new WalletsService(db, metrics);
  // Payouts go only to the member's verified wallet.
  const withdrawals = new WithdrawalsService(
    db,
    chain,
    currencies,
    async (discordId) => (await wallets.status(discordId)).wallet?.address,
    { maxAttempts: config.WITHDRAW_MAX_ATTEMPTS },
    log,
  );
  return {
    chain,
    badges: new BadgesService(db, chain, async (discordId) => (await wallets.status(discordId)).wallet?.address, config, metrics, log),
    deposits: new DepositsService(db, chain, currencies, { ttlMinutes: config.DEPOSIT_TTL_MINUTES }, log),
    ledger: new LedgerService(db, config),
    solvency: new SolvencyService(db, chain, currencies, withdrawals, metrics, log),
    tickets: new TicketsService(db, users, metrics),
    users,
    wallets,
    withdrawals,
  };
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
    const ctx: AppContext = { config, log, db, services: createServices(db, metrics, config, log) };

    const http = await createHttpServer({ ctx, metrics, plugins: [walletRoutes, badgeRoutes], adminPlugins: [ticketAdminRoutes, withdrawalAdminRoutes, badgeAdminRoutes] });
    stops.push(() => http.close());
    await http.listen({ host: config.HTTP_HOST, port: config.HTTP_PORT });
    const address = http.server.address();
    const httpUrl =
      typeof address === 'object' && address ? `http://${config.HTTP_HOST}:${address.port}` : `http://${config.HTTP_HOST}`;

    // Links sent to users (wallet-link page) need a reachable base; default to where we actually listen.
    if (!config.PUBLIC_URL) ctx.config = { ...config, PUBLIC_URL: httpUrl };
    ctx.services.badges.setPublicUrl(ctx.config.PUBLIC_URL ?? httpUrl);

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
      wirePaymentNotifiers(ctx.services, discord.client, log);
      // Wallets verified on the web link page are confirmed in Discord (DM + edit of the /wallet link reply).
      ctx.services.wallets.setNotifier(createDiscordWalletNotifier(discord.client, log));
      ctx.services.tickets.attachDiscord(ticketDiscordEffects(discord.client, ctx));
      ctx.services.ledger.attachDiscord(airdropDiscordEffects(discord.client, ctx.services.ledger));
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
