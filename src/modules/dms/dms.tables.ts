import type { ColumnType } from 'kysely';
import type { CreatedAt, Id } from '../../db/schema';

// Kysely view of migrations/2026_11_28_226000_dm_outbox.ts.

type NullableTime = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;

/** A member DM owed since the change it reports committed; sent (or given up) once `sent_at` is set. */
export interface DmOutboxTable {
  id: Id;
  key: string;
  discord_id: string;
  content: string;
  created_at: CreatedAt;
  claimed_until: NullableTime;
  attempts: ColumnType<number, number | undefined, number>;
  sent_at: NullableTime;
  last_error: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface DmTables {
  dm_outbox: DmOutboxTable;
}
