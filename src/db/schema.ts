import type { ColumnType, Insertable, Selectable, Updateable } from 'kysely';
// Module table declarations (one import line per module):
import type { WalletTables } from '../modules/wallets/wallets.tables';
import type { TicketTables } from '../modules/tickets/tickets.tables';
import type { LedgerTables } from '../modules/ledger/ledger.tables';
import type { DepositTables } from '../modules/deposits/deposits.tables';
import type { WithdrawalTables } from '../modules/withdrawals/withdrawals.tables';
import type { GuildTables } from '../modules/guilds/guilds.tables';
import type { BadgeTables } from '../modules/badges/badges.tables';
import type { QuotaTables } from '../modules/quota/quota.tables';
import type { WebhookTables } from '../modules/webhooks/webhooks.tables';
import type { BillingTables } from '../modules/billing/billing.tables';
import type { BillingJobsTables } from '../modules/billing/billing-jobs.tables';
import type { BillingChainTables } from '../modules/billing/billing-chain.tables';
import type { ReplyOutboxTables } from '../discord/reply-outbox.tables';
import type { ChainCreditTables } from './chain-credits';
import type { DmTables } from '../modules/dms/dms.tables';
import type { JobTickTables } from './job-ticks';

// The Kysely view of the schema in migrations/. Keep in step with every migration.

export type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
export type CreatedAt = ColumnType<Date, Date | string | undefined, never>;
export type Id = ColumnType<bigint, never, never>;

export type UserRole = 'USER' | 'SUPPORT' | 'ADMIN';

export interface UsersTable {
  id: Id;
  discord_id: string;
  username: string;
  role: ColumnType<UserRole, UserRole | undefined, UserRole>;
  is_blocked: ColumnType<boolean, boolean | undefined, boolean>;
  blocked_reason: string | null;
  blocked_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  has_used_trial: ColumnType<boolean, boolean | undefined, boolean>;
  email: string | null;
  timezone: ColumnType<string, string | undefined, string>;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export interface FederatedCredentialsTable {
  id: Id;
  user_id: bigint;
  provider: string;
  subject: string;
  created_at: CreatedAt;
}

export interface ChainCredentialsTable {
  id: Id;
  user_id: bigint;
  chain: string;
  address: string;
  created_at: CreatedAt;
}

export interface UserTables {
  users: UsersTable;
  federated_credentials: FederatedCredentialsTable;
  chain_credentials: ChainCredentialsTable;
}

/**
 * Every table. Each module declares its own `<module>.tables.ts` (types only) and is listed here once.
 */
export interface DB
  extends UserTables,
    WalletTables,
    TicketTables,
    LedgerTables,
    DepositTables,
    WithdrawalTables,
    GuildTables,
    BadgeTables,
    QuotaTables,
    WebhookTables,
    BillingTables,
    BillingJobsTables,
    BillingChainTables,
    ReplyOutboxTables,
    ChainCreditTables,
    DmTables,
    JobTickTables {}

export type User = Selectable<UsersTable>;
export type NewUser = Insertable<UsersTable>;
export type UserUpdate = Updateable<UsersTable>;
