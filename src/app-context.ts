import type { Kysely } from 'kysely';
import type { Config } from './config';
import type { DB } from './db/schema';
import type { Logger } from './logger';
import type { UsersService } from './modules/users/users.service';
import type { TicketsService } from './modules/tickets/tickets.service';
import type { WalletsService } from './modules/wallets/wallets.service';
import type { LedgerService } from './modules/ledger/ledger.service';
import type { ChainService } from './chain/chain.service';
import type { DepositsService } from './modules/deposits/deposits.service';
import type { SolvencyService } from './modules/solvency/solvency.service';
import type { WithdrawalNotifier, WithdrawalsService } from './modules/withdrawals/withdrawals.service';
import type { DepositNotifier } from './modules/deposits/deposits.service';
import type { WalletNotifier } from './modules/wallets/wallets.service';
import type { AirdropEffects } from './modules/ledger/ledger.service';
import type { TicketDiscordEffects } from './modules/tickets/tickets.service';
import type { GuildDirectory, GuildsService } from './modules/guilds/guilds.service';
import type { BadgesService } from './modules/badges/badges.service';
import type { QuotaService } from './modules/quota/quota.service';
import type { WebhookNotifier, WebhooksService } from './modules/webhooks/webhooks.service';
import type { BillingService } from './modules/billing/billing.service';
import type { BillingRolesDiscord } from './modules/billing/billing-roles.discord';
import type { InvoicePaymentNotifier } from './modules/billing/invoice-watch';
import type { DmPort } from './modules/dms/dm-outbox';

/**
 * What commands, HTTP routes and jobs get: configuration, a logger, the database and the domain services.
 * Services are added here as modules land; commands never touch `db` directly (they call a service).
 * Built once by the composition root (src/app.ts) and never changed afterwards.
 */
export interface AppContext {
  readonly config: Config;
  readonly log: Logger;
  readonly db: Kysely<DB>;
  readonly services: Services;
  /** The Discord side effects of work done outside an interaction (jobs, admin API); empty without Discord. */
  readonly effects: Effects;
}

/**
 * Ports to the outside world (Discord today), built by each module's definition from the client and passed to
 * services at construction; jobs and routes read them from the context. A missing port means "no Discord": each
 * user of one decides what that means (notify nobody, or skip work that must not happen silently).
 */
export interface Effects {
  deposits?: DepositNotifier;
  withdrawals?: WithdrawalNotifier;
  wallets?: WalletNotifier;
  tickets?: TicketDiscordEffects;
  airdrops?: AirdropEffects;
  guildDirectory?: GuildDirectory;
  webhooks?: WebhookNotifier;
  billingRoles?: BillingRolesDiscord;
  /** On-chain invoice payments (invoice-watch job): the member is told what arrived and where it went. */
  billingPayments?: InvoicePaymentNotifier;
  /** Member DMs owed through the outbox (src/modules/dms): reminders, expiry notices. */
  dms?: DmPort;
}

export interface Services {
  badges: BadgesService;
  billing: BillingService;
  chain: ChainService;
  deposits: DepositsService;
  guilds: GuildsService;
  ledger: LedgerService;
  quota: QuotaService;
  solvency: SolvencyService;
  tickets: TicketsService;
  users: UsersService;
  wallets: WalletsService;
  webhooks: WebhooksService;
  withdrawals: WithdrawalsService;
}
