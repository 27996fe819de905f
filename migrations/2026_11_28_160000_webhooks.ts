import { sql, type Kysely } from 'kysely';

// Frozen: never import application code here.
// Partner webhooks (issue 16): endpoints per API client environment, a transactional outbox (webhook_events) and one
// delivery row per (event, endpoint).
//
// Why triggers write the outbox: the event must exist iff the change committed. tip.received rows come from an
// AFTER INSERT trigger on journal (type 'tip'), so every tip path (Discord /tip, confirmations, the partner API, all
// through the plpgsql ledger_tip()) writes its events inside the tip's own transaction without the ledger module
// knowing about webhooks, and a failing tip rolls its events back with it. wallet.linked likewise hangs off
// chain_credentials. The trigger costs one index probe per tip leg when the receiver has no subscribed endpoint
// (partial index webhook_endpoints_owner_active) and writes nothing then.
//
// Endpoints carry their client's owner (owner_user_id) so the trigger finds them without joining the quota tables:
// events go to endpoints of API clients owned by the member the event is about.

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  const id = (t: string) => db.schema.createTable(t).addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity());

  await id('webhook_endpoints')
    .addColumn('environment_id', 'bigint', (c) => c.notNull().references('api_client_environments.id').onDelete('cascade'))
    .addColumn('owner_user_id', 'bigint', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('url', 'text', (c) => c.notNull().check(sql`char_length(url) BETWEEN 1 AND 2048`))
    .addColumn('event_types', sql`text[]`, (c) => c.notNull().check(sql`cardinality(event_types) > 0`))
    .addColumn('secret', 'text', (c) => c.notNull().check(sql`secret LIKE 'whsec\\_%'`))
    .addColumn('active', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('disabled_reason', 'text')
    // First failed attempt since the last success; a long enough streak disables the endpoint.
    .addColumn('failing_since', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`CREATE TRIGGER webhook_endpoints_updated_at BEFORE UPDATE ON webhook_endpoints FOR EACH ROW EXECUTE FUNCTION set_updated_at()`.execute(db);
  await sql`CREATE INDEX webhook_endpoints_owner_active ON webhook_endpoints (owner_user_id) WHERE active`.execute(db);
  await sql`CREATE INDEX webhook_endpoints_environment ON webhook_endpoints (environment_id)`.execute(db);

  await db.schema
    .createTable('webhook_events')
    // Standard Webhooks `webhook-id`: stable across retries so receivers can deduplicate.
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('owner_user_id', 'bigint', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('payload', 'jsonb', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await id('webhook_deliveries')
    .addColumn('event_id', 'text', (c) => c.notNull().references('webhook_events.id').onDelete('cascade'))
    .addColumn('endpoint_id', 'bigint', (c) => c.notNull().references('webhook_endpoints.id').onDelete('cascade'))
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('pending').check(sql`status IN ('pending', 'delivered', 'dead')`))
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('last_attempt_at', 'timestamptz')
    .addColumn('last_status', 'integer')
    .addColumn('last_error', 'text')
    .addColumn('last_response', 'text')
    .addColumn('delivered_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('webhook_deliveries_event_endpoint_key', ['event_id', 'endpoint_id'])
    .execute();
  await sql`CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending'`.execute(db);
  await sql`CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id)`.execute(db);

  // One event per (type, member) with a delivery for each active endpoint of that member subscribed to the type.
  await sql`
    CREATE FUNCTION webhook_emit(p_type text, p_owner bigint, p_payload jsonb) RETURNS void LANGUAGE plpgsql AS $$
    DECLARE
      v_id text;
    BEGIN
      IF NOT EXISTS (SELECT 1 FROM webhook_endpoints WHERE owner_user_id = p_owner AND active AND p_type = ANY (event_types)) THEN
        RETURN;
      END IF;
      v_id := 'msg_' || replace(gen_random_uuid()::text, '-', '');
      INSERT INTO webhook_events (id, type, owner_user_id, payload) VALUES (v_id, p_type, p_owner, p_payload);
      INSERT INTO webhook_deliveries (event_id, endpoint_id)
        SELECT v_id, e.id FROM webhook_endpoints e WHERE e.owner_user_id = p_owner AND e.active AND p_type = ANY (e.event_types);
    END $$`.execute(db);

  await sql`
    CREATE FUNCTION webhooks_journal_tip() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM webhook_emit('tip.received', NEW.to_user_id, jsonb_build_object(
        'tipId', NEW.id::text,
        'senderDiscordId', (SELECT discord_id FROM users WHERE id = NEW.from_user_id),
        'receiverDiscordId', (SELECT discord_id FROM users WHERE id = NEW.to_user_id),
        'amount', NEW.amount::text,
        'currency', NEW.currency,
        'note', NEW.note,
        'guildId', NEW.guild_id,
        'createdAt', to_char(NEW.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')));
      RETURN NULL;
    END $$`.execute(db);
  await sql`CREATE TRIGGER journal_webhooks_tip AFTER INSERT ON journal FOR EACH ROW WHEN (NEW.type = 'tip' AND NEW.to_user_id IS NOT NULL) EXECUTE FUNCTION webhooks_journal_tip()`.execute(
    db,
  );

  await sql`
    CREATE FUNCTION webhooks_wallet_linked() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM webhook_emit('wallet.linked', NEW.user_id, jsonb_build_object(
        'discordId', (SELECT discord_id FROM users WHERE id = NEW.user_id),
        'chain', NEW.chain,
        'address', NEW.address));
      RETURN NULL;
    END $$`.execute(db);
  await sql`CREATE TRIGGER chain_credentials_webhooks AFTER INSERT ON chain_credentials FOR EACH ROW EXECUTE FUNCTION webhooks_wallet_linked()`.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TRIGGER chain_credentials_webhooks ON chain_credentials`.execute(db);
  await sql`DROP TRIGGER journal_webhooks_tip ON journal`.execute(db);
  await sql`DROP FUNCTION webhooks_wallet_linked()`.execute(db);
  await sql`DROP FUNCTION webhooks_journal_tip()`.execute(db);
  await sql`DROP FUNCTION webhook_emit(text, bigint, jsonb)`.execute(db);
  for (const t of ['webhook_deliveries', 'webhook_events', 'webhook_endpoints']) await db.schema.dropTable(t).execute();
}
