import { sql, type Kysely } from 'kysely';

// Frozen: never import application code here.
// Partner API metering (seed 000 quota tables + seed 003 client environments): API clients owned by a member, one
// token per environment (only its SHA-256 is stored), reporters with their own tokens, quota bundles grouped into
// packages, packages granted to members (by an operator or a voucher), and usage per member period, client
// environment and method. A member's period starts on their anchor day; closed periods stay in quota_periods.

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  const id = (t: string) => db.schema.createTable(t).addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity());
  const createdAt = sql`now()`;

  await id('quota_reporters')
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('active', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(createdAt))
    .execute();

  await id('quota_reporter_tokens')
    .addColumn('reporter_id', 'bigint', (c) => c.notNull().references('quota_reporters.id').onDelete('cascade'))
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(createdAt))
    .addColumn('invalidated_at', 'timestamptz')
    .execute();

  await id('api_clients')
    .addColumn('owner_user_id', 'bigint', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull().check(sql`char_length(name) BETWEEN 1 AND 64`))
    .addColumn('contacts', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'::text[]`))
    .addColumn('allowed_origins', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'::text[]`))
    .addColumn('active', 'boolean', (c) => c.notNull().defaultTo(true))
    // The reporter that meters this client's own services (usage reports); null = none may report for it.
    .addColumn('reporter_id', 'bigint', (c) => c.references('quota_reporters.id').onDelete('set null'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(createdAt))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(createdAt))
    .addUniqueConstraint('api_clients_owner_name_key', ['owner_user_id', 'name'])
    .execute();
  await sql`CREATE TRIGGER api_clients_updated_at BEFORE UPDATE ON api_clients FOR EACH ROW EXECUTE FUNCTION set_updated_at()`.execute(db);

  await id('api_client_environments')
    .addColumn('client_id', 'bigint', (c) => c.notNull().references('api_clients.id').onDelete('cascade'))
    .addColumn('environment', 'text', (c) => c.notNull().check(sql`environment IN ('dev', 'stage', 'prod')`))
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('token_hint', 'text', (c) => c.notNull())
    .addColumn('active', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(createdAt))
    .addColumn('rotated_at', 'timestamptz')
    .addColumn('revoked_at', 'timestamptz')
    .addUniqueConstraint('api_client_environments_client_env_key', ['client_id', 'environment'])
    .execute();

  await id('quota_bundles')
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('requests', 'bigint', (c) => c.notNull().check(sql`requests > 0`))
    // null: any method; otherwise the allowance is usable by this method only.
    .addColumn('method', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(createdAt))
    .execute();

  await id('quota_packages')
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(createdAt))
    .execute();

  await db.schema
    .createTable('quota_package_bundles')
    .addColumn('package_id', 'bigint', (c) => c.notNull().references('quota_packages.id').onDelete('cascade'))
    .addColumn('bundle_id', 'bigint', (c) => c.notNull().references('quota_bundles.id').onDelete('restrict'))
    .addColumn('valid_from', 'timestamptz', (c) => c.notNull().defaultTo(sql`'-infinity'`))
    .addColumn('valid_until', 'timestamptz', (c) => c.notNull().defaultTo(sql`'infinity'`))
    .addPrimaryKeyConstraint('quota_package_bundles_pkey', ['package_id', 'bundle_id'])
    .addCheckConstraint('quota_package_bundles_window', sql`valid_from < valid_until`)
    .execute();

  await id('quota_user_packages')
    .addColumn('user_id', 'bigint', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('package_id', 'bigint', (c) => c.notNull().references('quota_packages.id').onDelete('restrict'))
    .addColumn('source', 'text', (c) => c.notNull().check(sql`source IN ('admin', 'voucher', 'plan')`))
    .addColumn('source_ref', 'text')
    .addColumn('valid_from', 'timestamptz', (c) => c.notNull().defaultTo(createdAt))
    .addColumn('valid_until', 'timestamptz', (c) => c.notNull().defaultTo(sql`'infinity'`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(createdAt))
    .execute();
  await db.schema.createIndex('quota_user_packages_user_idx').on('quota_user_packages').column('user_id').execute();

  await id('quota_vouchers')
    .addColumn('code', 'text', (c) => c.notNull().unique().check(sql`code ~ '^[A-Z0-9-]{4,40}$'`))
    .addColumn('package_id', 'bigint', (c) => c.notNull().references('quota_packages.id').onDelete('restrict'))
    .addColumn('uses_left', 'integer', (c) => c.notNull().check(sql`uses_left >= 0`))
    .addColumn('valid_until', 'timestamptz', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(createdAt))
    .execute();

  await db.schema
    .createTable('quota_redeemed_vouchers')
    .addColumn('user_id', 'bigint', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('voucher_id', 'bigint', (c) => c.notNull().references('quota_vouchers.id').onDelete('cascade'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(createdAt))
    .addPrimaryKeyConstraint('quota_redeemed_vouchers_pkey', ['user_id', 'voucher_id'])
    .execute();

  // One row per member: where their monthly period starts (anchor day 1-28, so every month has it).
  await db.schema
    .createTable('quota_accounts')
    .addColumn('user_id', 'bigint', (c) => c.primaryKey().references('users.id').onDelete('cascade'))
    .addColumn('anchor_day', 'smallint', (c) => c.notNull().check(sql`anchor_day BETWEEN 1 AND 28`))
    .addColumn('period_start', 'timestamptz', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(createdAt))
    .execute();

  await db.schema
    .createTable('quota_usage')
    .addColumn('user_id', 'bigint', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('period_start', 'timestamptz', (c) => c.notNull())
    .addColumn('environment_id', 'bigint', (c) => c.notNull().references('api_client_environments.id').onDelete('cascade'))
    .addColumn('method', 'text', (c) => c.notNull())
    // Accepted API requests (flushed from each process's counters) and segments from usage reports.
    .addColumn('requests', 'bigint', (c) => c.notNull().defaultTo(0).check(sql`requests >= 0`))
    .addColumn('reported', 'bigint', (c) => c.notNull().defaultTo(0).check(sql`reported >= 0`))
    .addPrimaryKeyConstraint('quota_usage_pkey', ['user_id', 'period_start', 'environment_id', 'method'])
    .execute();

  await db.schema
    .createTable('quota_usage_reports')
    .addColumn('reporter_id', 'bigint', (c) => c.notNull().references('quota_reporters.id').onDelete('cascade'))
    .addColumn('report_id', 'text', (c) => c.notNull())
    .addColumn('user_id', 'bigint', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('environment_id', 'bigint', (c) => c.notNull().references('api_client_environments.id').onDelete('cascade'))
    .addColumn('method', 'text', (c) => c.notNull())
    .addColumn('segments', 'bigint', (c) => c.notNull().check(sql`segments > 0`))
    .addColumn('period_start', 'timestamptz', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(createdAt))
    .addPrimaryKeyConstraint('quota_usage_reports_pkey', ['reporter_id', 'report_id'])
    .execute();
  await db.schema
    .createIndex('quota_usage_reports_period_idx')
    .on('quota_usage_reports')
    .columns(['user_id', 'period_start'])
    .execute();

  // Closed periods (history); the usage rows of a closed period are kept as they are.
  await db.schema
    .createTable('quota_periods')
    .addColumn('user_id', 'bigint', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('period_start', 'timestamptz', (c) => c.notNull())
    .addColumn('period_end', 'timestamptz', (c) => c.notNull())
    .addColumn('requests', 'bigint', (c) => c.notNull())
    .addColumn('reported', 'bigint', (c) => c.notNull())
    .addColumn('closed_at', 'timestamptz', (c) => c.notNull().defaultTo(createdAt))
    .addPrimaryKeyConstraint('quota_periods_pkey', ['user_id', 'period_start'])
    .execute();

  // Idempotency-Key of API tips: the body's hash per key. UNLOGGED (no WAL, emptied by a crash): the ledger's own
  // idempotency on the derived interaction id still makes a retried tip a replay; only the "other body" 422 can
  // degrade to a replay for keys first used just before a crash.
  await sql`
    CREATE UNLOGGED TABLE api_idempotency_keys (
      environment_id bigint NOT NULL,
      key text NOT NULL,
      body_hash text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (environment_id, key)
    )`.execute(db);
  // Claims a key for a body (or returns the body hash that claimed it) and looks up the tip's receiver: one call on
  // the API's tip path, with the plans cached per connection (a plain statement is parsed and planned every time).
  await sql`
    CREATE FUNCTION api_claim_idempotency_key(p_environment bigint, p_key text, p_body_hash text, p_receiver text)
    RETURNS TABLE (body_hash text, receiver_username text) LANGUAGE plpgsql AS $$
    DECLARE
      v_hash text;
    BEGIN
      INSERT INTO api_idempotency_keys AS k (environment_id, key, body_hash) VALUES (p_environment, p_key, p_body_hash)
      ON CONFLICT (environment_id, key) DO NOTHING
      RETURNING k.body_hash INTO v_hash;
      IF v_hash IS NULL THEN
        SELECT k.body_hash INTO v_hash FROM api_idempotency_keys k WHERE k.environment_id = p_environment AND k.key = p_key;
      END IF;
      RETURN QUERY SELECT v_hash, (SELECT u.username FROM users u WHERE u.discord_id = p_receiver);
    END $$`.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP FUNCTION api_claim_idempotency_key(bigint, text, text, text)`.execute(db);
  for (const t of [
    'api_idempotency_keys',
    'quota_periods',
    'quota_usage_reports',
    'quota_usage',
    'quota_accounts',
    'quota_redeemed_vouchers',
    'quota_vouchers',
    'quota_user_packages',
    'quota_package_bundles',
    'quota_packages',
    'quota_bundles',
    'api_client_environments',
    'api_clients',
    'quota_reporter_tokens',
    'quota_reporters',
  ]) {
    await db.schema.dropTable(t).execute();
  }
}
