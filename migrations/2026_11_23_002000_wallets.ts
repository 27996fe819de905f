import { sql, type Kysely } from 'kysely';

// Frozen: never import application code here.
// Wallet linking: single-use sign-in nonces, the verified wallet per user, and the verification attempt log
// that backs the rate limit (DB-backed so that every replica sees the same window).

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('registration_nonces')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('nonce', 'text', (c) => c.notNull().unique())
    .addColumn('user_id', 'bigint', (c) => c.notNull().references('users.id').onDelete('cascade'))
    // The message embeds the Discord id, name and site base URL as they were when the link was issued, so the
    // exact text to sign never changes under the user's feet (rename, PUBLIC_URL change).
    .addColumn('discord_id', 'text', (c) => c.notNull())
    .addColumn('discord_username', 'text', (c) => c.notNull())
    .addColumn('base_url', 'text', (c) => c.notNull())
    // Lets the bot edit the ephemeral /wallet link reply once the wallet is verified (interaction tokens live 15 min).
    .addColumn('interaction_app_id', 'text')
    .addColumn('interaction_token', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('used_at', 'timestamptz')
    .addColumn('used_address', 'text')
    .addColumn('invalidated_at', 'timestamptz')
    .addCheckConstraint('registration_nonces_expiry_after_issue', sql`expires_at > created_at`)
    .addCheckConstraint('registration_nonces_used_xor_invalidated', sql`used_at IS NULL OR invalidated_at IS NULL`)
    .execute();
  // Invalidating a user's open nonces when a new one is issued.
  await sql`CREATE INDEX registration_nonces_open_by_user_idx ON registration_nonces (user_id)
            WHERE used_at IS NULL AND invalidated_at IS NULL`.execute(db);
  // The cleanup job walks expired rows in batches.
  await db.schema.createIndex('registration_nonces_expires_at_idx').on('registration_nonces').column('expires_at').execute();

  await db.schema
    .createTable('wallet_registrations')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('user_id', 'bigint', (c) => c.notNull().unique().references('users.id').onDelete('cascade'))
    .addColumn('address', 'text', (c) => c.notNull().unique())
    .addColumn('nonce', 'text', (c) => c.notNull())
    .addColumn('verified_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    // The exact signed text, its encoding and the signature: enough to re-verify the link offline later.
    .addColumn('message_data', 'jsonb', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`CREATE TRIGGER wallet_registrations_updated_at BEFORE UPDATE ON wallet_registrations
            FOR EACH ROW EXECUTE FUNCTION set_updated_at()`.execute(db);

  await db.schema
    .createTable('wallet_verify_attempts')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    // 'user:<discord id>' or 'ip:<address>'
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('attempted_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createIndex('wallet_verify_attempts_subject_idx')
    .on('wallet_verify_attempts')
    .columns(['subject', 'attempted_at'])
    .execute();
  await db.schema.createIndex('wallet_verify_attempts_attempted_at_idx').on('wallet_verify_attempts').column('attempted_at').execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('wallet_verify_attempts').execute();
  await db.schema.dropTable('wallet_registrations').execute();
  await db.schema.dropTable('registration_nonces').execute();
}
