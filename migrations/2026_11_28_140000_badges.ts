import { sql, type Kysely } from 'kysely';

// Frozen: never import application code here.
//
// Trust badges (module badges):
// - verifications: a member's acceptance of one terms version; wallet/verified_at/nft_mint record the mint made
//   under it. A newer terms version needs a new row before the next mint.
// - ratings: member → member, 1-5, at most one per pair per period (e.g. '2026-11'), never oneself.
// - reputation_scores: the recompute job's output, one row per user (set-based upsert).
// - trust_badges: one row per badge; at most one live badge per user (partial unique index), so two concurrent
//   claims make one badge. The mint address derives from the id, so it is known before any transaction exists.
// - badge_chain_ops: the outbox of chain work (mint, field update, revoke). The signed transaction is committed
//   before it is sent; at most one op of a kind in flight per badge.

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE verifications (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      terms_version text NOT NULL,
      accepted_at timestamptz NOT NULL DEFAULT now(),
      wallet text,
      verified_at timestamptz,
      nft_mint text,
      CONSTRAINT verifications_user_terms_key UNIQUE (user_id, terms_version)
    )`.execute(db);

  await sql`
    CREATE TABLE ratings (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      rater_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      ratee_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      score smallint NOT NULL CHECK (score BETWEEN 1 AND 5),
      comment text CHECK (char_length(comment) <= 500),
      period text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT ratings_not_self CHECK (rater_id <> ratee_id),
      CONSTRAINT ratings_pair_period_key UNIQUE (rater_id, ratee_id, period)
    )`.execute(db);
  await sql`CREATE INDEX ratings_ratee_idx ON ratings (ratee_id)`.execute(db);

  await sql`
    CREATE TABLE reputation_scores (
      user_id bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
      score integer NOT NULL CHECK (score BETWEEN 0 AND 1000),
      tier text NOT NULL,
      components jsonb NOT NULL,
      computed_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);

  await sql`
    CREATE TABLE trust_badges (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      user_id bigint NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
      wallet text NOT NULL,
      mint text,
      issuer text NOT NULL,
      status text NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'minting', 'active', 'revoking', 'revoked', 'burned', 'failed')),
      terms_version text NOT NULL,
      reputation_score integer NOT NULL,
      tier text NOT NULL,
      -- What the chain holds now (the sync job rewrites when these differ from the bucketed live values).
      chain_reputation text,
      chain_tier text,
      revoke_requested_at timestamptz,
      revoke_reason text,
      revoked_by text,
      failure_reason text,
      minted_at timestamptz,
      revoked_at timestamptz,
      burned_at timestamptz,
      synced_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT trust_badges_mint_key UNIQUE (mint)
    )`.execute(db);
  await sql`
    CREATE UNIQUE INDEX trust_badges_one_live_per_user ON trust_badges (user_id)
    WHERE status IN ('queued', 'minting', 'active', 'revoking')`.execute(db);
  await sql`CREATE INDEX trust_badges_status_idx ON trust_badges (status) WHERE status IN ('queued', 'minting', 'active', 'revoking')`.execute(db);

  await sql`
    CREATE TABLE badge_chain_ops (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      badge_id bigint NOT NULL REFERENCES trust_badges (id) ON DELETE CASCADE,
      kind text NOT NULL CHECK (kind IN ('mint', 'update', 'revoke')),
      status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'confirmed', 'failed', 'canceled')),
      payload jsonb NOT NULL DEFAULT '{}'::jsonb,
      signature text,
      serialized_tx text,
      blockhash text,
      last_valid_block_height bigint,
      previous_signatures text[] NOT NULL DEFAULT '{}',
      attempts integer NOT NULL DEFAULT 0,
      failure_reason text,
      sent_at timestamptz,
      confirmed_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT badge_chain_ops_signature_key UNIQUE (signature)
    )`.execute(db);
  await sql`
    CREATE UNIQUE INDEX badge_chain_ops_one_in_flight ON badge_chain_ops (badge_id, kind)
    WHERE status IN ('pending', 'sent')`.execute(db);
  await sql`CREATE INDEX badge_chain_ops_open_idx ON badge_chain_ops (id) WHERE status IN ('pending', 'sent')`.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE badge_chain_ops`.execute(db);
  await sql`DROP TABLE trust_badges`.execute(db);
  await sql`DROP TABLE reputation_scores`.execute(db);
  await sql`DROP TABLE ratings`.execute(db);
  await sql`DROP TABLE verifications`.execute(db);
}
