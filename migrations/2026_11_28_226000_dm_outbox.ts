import { sql, type Kysely } from 'kysely';

// Frozen: never import application code here.
// A generic outbox for member DMs that report a committed change (review of stop 10): the membership reminders
// (3 d / 1 d) and the invoice-expired DM were sent after their commit, so a crash in between lost them. Now the DM's
// text is written in the transaction that makes the change, under a `key` naming what it is about (so a rerun or a
// second replica cannot owe it twice), and a sender marks `sent_at` after Discord took it (at-least-once: a crash
// after the DM but before the mark sends it again). `claimed_until` is the lease of the replica sending it.
// withdrawal_notices (210000) stays as it is: its text is rendered from the final withdrawal row at send time.

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE dm_outbox (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      key text NOT NULL UNIQUE CHECK (char_length(key) BETWEEN 1 AND 200),
      discord_id text NOT NULL CHECK (discord_id ~ '^[0-9]{15,22}$'),
      content text NOT NULL CHECK (char_length(content) BETWEEN 1 AND 2000),
      created_at timestamptz NOT NULL DEFAULT now(),
      claimed_until timestamptz,
      attempts integer NOT NULL DEFAULT 0,
      sent_at timestamptz,
      -- Set when Discord refused for good (DMs closed, unknown user) or the attempts ran out; sent_at is set too.
      last_error text
    )`.execute(db);
  await sql`CREATE INDEX dm_outbox_unsent ON dm_outbox (created_at, id) WHERE sent_at IS NULL`.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('dm_outbox').execute();
}
