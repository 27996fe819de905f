import { sql, type Kysely } from 'kysely';

// Frozen: never import application code here.
// Support tickets (seed 004 tickets + 001 reports/report_replies + 002 Ticket/TicketMessage). A ticket lives in a
// private Discord thread; ticket_messages is the transcript, where staff notes (001 "draft" replies) are kept
// beside public messages and filtered out of whatever the member sees.

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('tickets')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('user_id', 'bigint', (c) => c.notNull().references('users.id'))
    // Denormalised from users so thread/DM operations need no join.
    .addColumn('discord_id', 'text', (c) => c.notNull())
    .addColumn('guild_id', 'text')
    .addColumn('subject', 'text', (c) => c.notNull().check(sql`char_length(btrim(subject)) BETWEEN 1 AND 100`))
    .addColumn('description', 'text', (c) => c.notNull().check(sql`char_length(btrim(description)) BETWEEN 1 AND 2000`))
    .addColumn('status', 'text', (c) =>
      c.notNull().defaultTo('open').check(sql`status IN ('open', 'claimed', 'pending_close', 'closed')`),
    )
    .addColumn('priority', 'text', (c) =>
      c.notNull().defaultTo('normal').check(sql`priority IN ('low', 'normal', 'high', 'urgent')`),
    )
    .addColumn('category', 'text', (c) => c.notNull().check(sql`category ~ '^[a-z0-9_-]{1,32}$'`))
    .addColumn('thread_id', 'text', (c) => c.unique())
    .addColumn('opening_message_id', 'text')
    .addColumn('claimed_by', 'bigint', (c) => c.references('users.id'))
    .addColumn('linked_ref', 'text', (c) => c.check(sql`linked_ref ~ '^(tip|withdrawal|invoice):[A-Za-z0-9_-]{1,64}$'`))
    .addColumn('rating', 'smallint', (c) => c.check(sql`rating BETWEEN 1 AND 5`))
    .addColumn('feedback', 'text', (c) => c.check(sql`char_length(feedback) <= 1000`))
    .addColumn('close_requested_at', 'timestamptz')
    .addColumn('first_staff_reply_at', 'timestamptz')
    .addColumn('last_activity_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('warned_at', 'timestamptz')
    .addColumn('closed_at', 'timestamptz')
    .addColumn('closed_by', 'bigint', (c) => c.references('users.id'))
    .addColumn('close_reason', 'text', (c) => c.check(sql`char_length(close_reason) <= 500`))
    // Interaction that opened it: a retried interaction returns the same ticket instead of a second one.
    .addColumn('source_interaction_id', 'text', (c) => c.unique())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint('tickets_closed_fields', sql`(status = 'closed') = (closed_at IS NOT NULL)`)
    .addCheckConstraint('tickets_claimed_has_claimer', sql`status <> 'claimed' OR claimed_by IS NOT NULL`)
    .addCheckConstraint('tickets_rating_after_close', sql`rating IS NULL OR status = 'closed'`)
    .execute();
  await sql`CREATE TRIGGER tickets_updated_at BEFORE UPDATE ON tickets FOR EACH ROW EXECUTE FUNCTION set_updated_at()`.execute(db);
  // Per-user limit/cooldown checks and "my tickets" listing.
  await db.schema.createIndex('tickets_user_id_idx').on('tickets').columns(['user_id', 'id']).execute();
  // Staff queue and the auto-close scan only ever look at tickets that are not closed.
  await sql`CREATE INDEX tickets_active_activity_idx ON tickets (last_activity_at) WHERE status <> 'closed'`.execute(db);
  await db.schema.createIndex('tickets_status_priority_idx').on('tickets').columns(['status', 'priority', 'id']).execute();

  await db.schema
    .createTable('ticket_messages')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('ticket_id', 'bigint', (c) => c.notNull().references('tickets.id').onDelete('cascade'))
    .addColumn('author_id', 'bigint', (c) => c.notNull().references('users.id'))
    .addColumn('body', 'text', (c) => c.notNull().check(sql`char_length(btrim(body)) BETWEEN 1 AND 4000`))
    .addColumn('is_staff_note', 'boolean', (c) => c.notNull().defaultTo(false))
    // Discord message or interaction id that produced the row: replays are no-ops.
    .addColumn('external_id', 'text', (c) => c.unique())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('ticket_messages_ticket_id_idx').on('ticket_messages').columns(['ticket_id', 'id']).execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('ticket_messages').execute();
  await db.schema.dropTable('tickets').execute();
}
