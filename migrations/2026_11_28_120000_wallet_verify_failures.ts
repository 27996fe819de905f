import { sql, type Kysely } from 'kysely';

// Frozen: never import application code here.
// Wallet-link abuse limits. A nonce counts its failed verifications and is burned at a limit, so guesses at one
// link are bounded without touching anyone else's; /wallet link counts a user's recent nonces for its cooldown.

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('registration_nonces')
    .addColumn('failed_attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await sql`ALTER TABLE registration_nonces ADD CONSTRAINT registration_nonces_failed_attempts_nonnegative
            CHECK (failed_attempts >= 0)`.execute(db);
  // The /wallet link cooldown counts a user's nonces issued in the last few minutes.
  await db.schema.createIndex('registration_nonces_user_created_idx').on('registration_nonces').columns(['user_id', 'created_at']).execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('registration_nonces_user_created_idx').execute();
  await db.schema.alterTable('registration_nonces').dropColumn('failed_attempts').execute();
}
