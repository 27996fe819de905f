import { type Kysely } from 'kysely';

// Frozen: never import application code here.
// Issue 11: ticket transcripts record what happened to a thread message after it was written. An edit keeps the
// body as first written (original_body, set once) and the latest one (body); a delete keeps the body and marks when.
// Nullable without defaults: catalog-only changes, no table rewrite.

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('ticket_messages')
    .addColumn('original_body', 'text')
    .addColumn('edited_at', 'timestamptz')
    .addColumn('deleted_at', 'timestamptz')
    .execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('ticket_messages').dropColumn('deleted_at').dropColumn('edited_at').dropColumn('original_body').execute();
}
