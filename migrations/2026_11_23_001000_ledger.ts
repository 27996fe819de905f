import { sql, type Kysely } from 'kysely';

// Frozen: never import application code here.
//
// Amounts are NUMERIC(39,0) base units (lamports, token base units): u64 amounts exceed BIGINT, and sums exceed u64.
// journal and tips carry user ids without foreign keys on purpose: an FK check takes FOR KEY SHARE on the users
// row, so every tip to a popular receiver would pile shared locks (multixacts) onto one users row. Those tables
// are append-only audit records and users are never deleted while they have ledger history.

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE balances (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      user_id bigint NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
      currency text NOT NULL,
      amount numeric(39, 0) NOT NULL DEFAULT 0,
      created_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT balances_amount_non_negative CHECK (amount >= 0),
      CONSTRAINT balances_user_currency_key UNIQUE (user_id, currency)
    ) WITH (fillfactor = 50);

    CREATE TABLE journal (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      type text NOT NULL CHECK (type IN ('tip', 'rain', 'admin_credit', 'airdrop_escrow', 'airdrop_claim', 'airdrop_refund')),
      from_user_id bigint,
      to_user_id bigint,
      amount numeric(39, 0) NOT NULL CHECK (amount > 0),
      currency text NOT NULL,
      status text NOT NULL DEFAULT 'completed' CHECK (status IN ('pending', 'completed', 'failed', 'reversed')),
      idempotency_key text NOT NULL,
      ref text,
      created_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT journal_idempotency_key_key UNIQUE (idempotency_key),
      CONSTRAINT journal_has_party CHECK (from_user_id IS NOT NULL OR to_user_id IS NOT NULL)
    );
    CREATE INDEX journal_from_user_idx ON journal (from_user_id, id) WHERE from_user_id IS NOT NULL;
    CREATE INDEX journal_to_user_idx ON journal (to_user_id, id) WHERE to_user_id IS NOT NULL;

    -- One row per recipient; leg numbers the recipients of one interaction, so (interaction_id, leg 0) is the
    -- idempotency claim of the whole (multi-recipient) tip.
    CREATE TABLE tips (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      interaction_id text NOT NULL,
      leg smallint NOT NULL,
      kind text NOT NULL CHECK (kind IN ('tip', 'rain')),
      sender_id bigint NOT NULL,
      receiver_id bigint NOT NULL,
      amount numeric(39, 0) NOT NULL CHECK (amount > 0),
      currency text NOT NULL,
      note text,
      created_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT tips_interaction_leg_key UNIQUE (interaction_id, leg),
      CONSTRAINT tips_not_self CHECK (sender_id <> receiver_id)
    );
    -- Append-only in time order: a BRIN index serves the leaderboard's period scans at almost no insert cost.
    CREATE INDEX tips_created_brin ON tips USING brin (created_at);

    CREATE TABLE airdrops (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      interaction_id text NOT NULL UNIQUE,
      creator_id bigint NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
      currency text NOT NULL,
      total_amount numeric(39, 0) NOT NULL CHECK (total_amount > 0),
      per_claim_amount numeric(39, 0) NOT NULL CHECK (per_claim_amount > 0),
      claims_allowed integer NOT NULL CHECK (claims_allowed > 0),
      claims_made integer NOT NULL DEFAULT 0,
      remaining_amount numeric(39, 0) NOT NULL CHECK (remaining_amount >= 0),
      status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'completed', 'expired')),
      expires_at timestamptz NOT NULL,
      guild_id text,
      channel_id text,
      message_id text,
      closed_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT airdrops_total CHECK (total_amount = per_claim_amount * claims_allowed),
      CONSTRAINT airdrops_claims_range CHECK (claims_made BETWEEN 0 AND claims_allowed),
      -- Escrow bookkeeping: while open, what is left is exactly what the remaining claims will pay out.
      CONSTRAINT airdrops_open_remaining CHECK (
        status <> 'open' OR remaining_amount = per_claim_amount * (claims_allowed - claims_made)
      )
    );
    CREATE INDEX airdrops_open_expiry_idx ON airdrops (expires_at) WHERE status = 'open';
    CREATE TRIGGER airdrops_updated_at BEFORE UPDATE ON airdrops FOR EACH ROW EXECUTE FUNCTION set_updated_at();

    CREATE TABLE airdrop_claims (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      airdrop_id bigint NOT NULL REFERENCES airdrops (id) ON DELETE RESTRICT,
      user_id bigint NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
      amount numeric(39, 0) NOT NULL CHECK (amount > 0),
      created_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT airdrop_claims_airdrop_user_key UNIQUE (airdrop_id, user_id)
    );

    -- A large tip waits here for the sender's Confirm click; the original interaction id stays its idempotency key.
    CREATE TABLE tip_confirmations (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      interaction_id text NOT NULL UNIQUE,
      sender_discord_id text NOT NULL,
      request jsonb NOT NULL,
      status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'confirmed', 'canceled')),
      expires_at timestamptz NOT NULL,
      decided_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now()
    );

    -- Who was recently active where: /rain picks its recipients from here.
    CREATE TABLE member_activity (
      guild_id text NOT NULL,
      user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      last_active_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (guild_id, user_id)
    );
    CREATE INDEX member_activity_recent_idx ON member_activity (guild_id, last_active_at DESC);
  `.execute(db);

  // The whole tip in one round trip: users, idempotency claim, ordered locks, debit, credits, journal.
  // Locks are taken in user_id order so A→B and B→A (and any multi-recipient mix) can never deadlock.
  await sql`
    CREATE FUNCTION ledger_tip(
      p_interaction text, p_kind text, p_currency text, p_each numeric, p_note text,
      p_sender_discord text, p_sender_name text, p_receiver_discord text[], p_receiver_names text[]
    ) RETURNS TABLE (replayed boolean, tip_ids bigint[], sender_id bigint, receiver_ids bigint[], each_amount numeric, sender_balance numeric)
    LANGUAGE plpgsql AS $$
    DECLARE
      v_sender bigint;
      v_receivers bigint[];
      v_tip_ids bigint[];
      v_total numeric(39, 0);
      v_balance numeric(39, 0);
    BEGIN
      -- Only unknown users are inserted: ON CONFLICT alone would still draw an identity value per known user.
      INSERT INTO users (discord_id, username)
      SELECT d, n FROM unnest(p_receiver_discord || p_sender_discord, p_receiver_names || p_sender_name) AS u(d, n)
      WHERE NOT EXISTS (SELECT 1 FROM users x WHERE x.discord_id = u.d)
      ORDER BY d
      ON CONFLICT (discord_id) DO NOTHING;

      SELECT id INTO STRICT v_sender FROM users WHERE discord_id = p_sender_discord;
      SELECT array_agg(u.id ORDER BY r.ord) INTO v_receivers
      FROM unnest(p_receiver_discord) WITH ORDINALITY AS r(d, ord) JOIN users u ON u.discord_id = r.d;

      -- A concurrent duplicate waits here for the first attempt and, once that commits, inserts nothing.
      WITH ins AS (
        INSERT INTO tips (interaction_id, leg, kind, sender_id, receiver_id, amount, currency, note)
        SELECT p_interaction, (r.ord - 1)::smallint, p_kind, v_sender, r.id, p_each, p_currency, p_note
        FROM unnest(v_receivers) WITH ORDINALITY AS r(id, ord)
        ON CONFLICT (interaction_id, leg) DO NOTHING
        RETURNING id
      )
      SELECT array_agg(id ORDER BY id) INTO v_tip_ids FROM ins;

      IF v_tip_ids IS NULL THEN
        RETURN QUERY
          SELECT true, array_agg(t.id ORDER BY t.leg), t.sender_id, array_agg(t.receiver_id ORDER BY t.leg), min(t.amount),
                 coalesce((SELECT b.amount FROM balances b WHERE b.user_id = t.sender_id AND b.currency = t.currency), 0)
          FROM tips t WHERE t.interaction_id = p_interaction
          GROUP BY t.sender_id, t.currency;
        RETURN;
      END IF;
      IF cardinality(v_tip_ids) <> cardinality(v_receivers) THEN
        RAISE EXCEPTION USING ERRCODE = 'SB002', MESSAGE = 'idempotency key reused with different recipients';
      END IF;

      -- Only new receivers need a row; skipping the insert for existing ones avoids waiting on their lock holder twice.
      IF (SELECT count(*) FROM balances WHERE currency = p_currency AND user_id = ANY (v_receivers)) < cardinality(v_receivers) THEN
        INSERT INTO balances (user_id, currency)
        SELECT r, p_currency FROM unnest(v_receivers) AS r ORDER BY r
        ON CONFLICT (user_id, currency) DO NOTHING;
      END IF;

      -- Written before the locks so that a popular receiver's row is held only for the balance updates and commit.
      INSERT INTO journal (type, from_user_id, to_user_id, amount, currency, idempotency_key, ref)
      SELECT p_kind, v_sender, v_receivers[r.ord], p_each, p_currency,
             p_kind || ':' || p_interaction || ':' || (r.ord - 1), 'tip:' || r.id
      FROM unnest(v_tip_ids) WITH ORDINALITY AS r(id, ord);

      PERFORM 1 FROM balances
      WHERE currency = p_currency AND user_id = ANY (v_receivers || v_sender)
      ORDER BY user_id
      FOR UPDATE;

      v_total := p_each * cardinality(v_receivers);
      SELECT amount INTO v_balance FROM balances WHERE user_id = v_sender AND currency = p_currency;
      IF coalesce(v_balance, 0) < v_total THEN
        RAISE EXCEPTION USING ERRCODE = 'SB001', MESSAGE = 'insufficient funds', DETAIL = coalesce(v_balance, 0)::text;
      END IF;
      UPDATE balances SET amount = amount + CASE WHEN user_id = v_sender THEN -v_total ELSE p_each END
      WHERE currency = p_currency AND user_id = ANY (v_receivers || v_sender);
      v_balance := v_balance - v_total;

      RETURN QUERY SELECT false, v_tip_ids, v_sender, v_receivers, p_each, v_balance;
    END $$;
  `.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP FUNCTION ledger_tip(text, text, text, numeric, text, text, text, text[], text[]);
    DROP TABLE member_activity;
    DROP TABLE tip_confirmations;
    DROP TABLE airdrop_claims;
    DROP TABLE airdrops;
    DROP TABLE tips;
    DROP TABLE journal;
    DROP TABLE balances;
  `.execute(db);
}
