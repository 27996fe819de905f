import { sql, type Kysely } from 'kysely';

// Frozen: never import application code here.
// Webhooks, part two (issue 16): more outbox events through the same webhook_emit() as 2026_11_28_160000, and secret
// rotation with an overlap window.
//
// - wallet.unlinked: AFTER DELETE ON chain_credentials, the mirror of wallet.linked (same transaction as /wallet unlink).
// - badge.minted: a trust badge reaching 'active' from 'queued'/'minting' (its mint transaction confirmed). 'active'
//   is also re-entered from 'revoking' when a revoke transaction failed; that is no new mint, hence the OLD.status test.
// - badge.revoked: a badge reaching 'revoked' after it was minted (minted_at set). A claim cancelled before its mint
//   (queued → revoked) never produced badge.minted, so it produces no badge.revoked either.
//
// Rotation: the endpoint keeps the secret it had before the last rotation (previous_secret) until
// previous_secret_expires_at; deliveries sent before then carry a signature under each secret.

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('webhook_endpoints')
    .addColumn('previous_secret', 'text', (c) => c.check(sql`previous_secret LIKE 'whsec\\_%'`))
    .addColumn('previous_secret_expires_at', 'timestamptz')
    .addColumn('secret_rotated_at', 'timestamptz')
    .execute();
  await sql`ALTER TABLE webhook_endpoints ADD CONSTRAINT webhook_endpoints_previous_secret_window
    CHECK ((previous_secret IS NULL) = (previous_secret_expires_at IS NULL))`.execute(db);
  // Replays select events by time.
  await sql`CREATE INDEX webhook_events_created_at ON webhook_events (created_at)`.execute(db);

  await sql`
    CREATE FUNCTION webhooks_wallet_unlinked() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM webhook_emit('wallet.unlinked', OLD.user_id, jsonb_build_object(
        'discordId', (SELECT discord_id FROM users WHERE id = OLD.user_id),
        'chain', OLD.chain,
        'address', OLD.address));
      RETURN NULL;
    END $$`.execute(db);
  await sql`CREATE TRIGGER chain_credentials_webhooks_unlinked AFTER DELETE ON chain_credentials FOR EACH ROW EXECUTE FUNCTION webhooks_wallet_unlinked()`.execute(db);

  await sql`
    CREATE FUNCTION webhooks_trust_badge() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM webhook_emit(CASE WHEN NEW.status = 'active' THEN 'badge.minted' ELSE 'badge.revoked' END, NEW.user_id, jsonb_build_object(
        'badgeId', NEW.id::text,
        'discordId', (SELECT discord_id FROM users WHERE id = NEW.user_id),
        'wallet', NEW.wallet,
        'mint', NEW.mint,
        'tier', NEW.tier,
        'reputationScore', NEW.reputation_score,
        'mintedAt', to_char(NEW.minted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'revokedAt', to_char(NEW.revoked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'revokeReason', CASE WHEN NEW.status = 'revoked' THEN NEW.revoke_reason END));
      RETURN NULL;
    END $$`.execute(db);
  await sql`
    CREATE TRIGGER trust_badges_webhooks AFTER UPDATE OF status ON trust_badges FOR EACH ROW
    WHEN ((NEW.status = 'active' AND OLD.status IN ('queued', 'minting'))
       OR (NEW.status = 'revoked' AND OLD.status <> 'revoked' AND NEW.minted_at IS NOT NULL))
    EXECUTE FUNCTION webhooks_trust_badge()`.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TRIGGER trust_badges_webhooks ON trust_badges`.execute(db);
  await sql`DROP FUNCTION webhooks_trust_badge()`.execute(db);
  await sql`DROP TRIGGER chain_credentials_webhooks_unlinked ON chain_credentials`.execute(db);
  await sql`DROP FUNCTION webhooks_wallet_unlinked()`.execute(db);
  await sql`DROP INDEX webhook_events_created_at`.execute(db);
  await db.schema
    .alterTable('webhook_endpoints')
    .dropConstraint('webhook_endpoints_previous_secret_window')
    .execute();
  await db.schema.alterTable('webhook_endpoints').dropColumn('previous_secret').dropColumn('previous_secret_expires_at').dropColumn('secret_rotated_at').execute();
}
