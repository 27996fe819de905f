import type { ColumnType } from 'kysely';

// Kysely view of migrations/2026_11_28_170000_interaction_replies.ts.

export interface InteractionRepliesTable {
  interaction_id: string;
  application_id: string;
  token: string;
  /** The INTERACTION_CREATE data as Discord sent it. */
  payload: ColumnType<unknown, string, string>;
  deferred_at: ColumnType<Date, Date | string | undefined, Date | string>;
  claimed_until: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  attempts: ColumnType<number, number | undefined, number>;
}

export interface ReplyOutboxTables {
  interaction_replies: InteractionRepliesTable;
}
