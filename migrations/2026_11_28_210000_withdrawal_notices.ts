import { sql, type Kysely } from 'kysely';

// Frozen: never import application code here.
// The payout notification outbox (issue 17): the member's DM about a confirmed or refunded withdrawal used to be sent
// after the commit, so a crash in between lost it. A row is now written in the transaction that confirms or refunds,
// and sent by the withdrawal processor until `sent_at` is set (at-least-once: a crash after the DM but before the mark
// sends it again). `claimed_until` is the lease of the replica sending it. Withdrawals final before this migration
// were notified the old way and get no row.

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('withdrawal_notices')
    .addColumn('withdrawal_id', 'bigint', (c) => c.notNull().references('withdrawals.id').onDelete('cascade'))
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('confirmed', 'refunded')`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('claimed_until', 'timestamptz')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('sent_at', 'timestamptz')
    .addPrimaryKeyConstraint('withdrawal_notices_pkey', ['withdrawal_id', 'kind'])
    .execute();
  await sql`CREATE INDEX withdrawal_notices_unsent ON withdrawal_notices (created_at) WHERE sent_at IS NULL`.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('withdrawal_notices').execute();
}
