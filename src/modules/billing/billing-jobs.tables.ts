import type { ColumnType } from 'kysely';
import type { Timestamp } from '../../db/schema';

// Kysely view of migrations/2026_11_28_171000_billing_jobs.ts.

type NullableTime = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;

declare module './billing.tables' {
  interface BillingRoleChangesTable {
    /** A change Discord refused for good; set together with done_at. */
    failed_at: NullableTime;
  }
}

export interface BillingRoleAlertsTable {
  guild_id: string;
  role_id: string;
  /** What the log channel was told (see RoleProblem in billing-roles.discord.ts). */
  problem: string;
  alerted_at: Timestamp;
}

export interface BillingJobsTables {
  billing_role_alerts: BillingRoleAlertsTable;
}
