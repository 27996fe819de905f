import { sql, type Kysely } from 'kysely';

// Frozen: never import application code here.
// The reply outbox (issue 17): a deferred interaction ("thinking…") whose process dies before the answer is answered
// by another replica (or the restarted one) within Discord's 15-minute token lifetime. A row exists from the deferral
// until the answer was sent; `payload` is the INTERACTION_CREATE data, so a command that is idempotent per
// interaction id can simply run again. `claimed_until` is the lease of the replica answering it.

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('interaction_replies')
    .addColumn('interaction_id', 'text', (c) => c.primaryKey())
    .addColumn('application_id', 'text', (c) => c.notNull())
    .addColumn('token', 'text', (c) => c.notNull())
    .addColumn('payload', 'jsonb', (c) => c.notNull())
    .addColumn('deferred_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('claimed_until', 'timestamptz')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await sql`CREATE INDEX interaction_replies_deferred_at ON interaction_replies (deferred_at)`.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('interaction_replies').execute();
}
