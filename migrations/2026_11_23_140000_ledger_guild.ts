import { sql, type Kysely } from 'kysely';

// Frozen: never import application code here.
//
// Tips and rain remember the guild they were sent in, so /leaderboard can rank a server's own tippers (bot-wide in
// DMs). Rows from before this migration and tips sent in DMs keep guild_id NULL and count only bot-wide.
// ledger_tip() gains a trailing `p_guild text DEFAULT NULL`: 9-argument calls (code deployed before this migration)
// keep working. CREATE OR REPLACE cannot add a parameter and a second overload would make those calls ambiguous, so
// the old function is dropped and recreated in the same (transactional) migration.

const OLD_SIGNATURE = sql`ledger_tip(text, text, text, numeric, text, text, text, text[], text[])`;
const NEW_SIGNATURE = sql`ledger_tip(text, text, text, numeric, text, text, text, text[], text[], text)`;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- Nullable without a default: a catalog-only change, no table rewrite.
    ALTER TABLE tips ADD COLUMN guild_id text;

    -- The per-guild leaderboard: equality on (guild_id, currency), range on created_at, and sender/amount included
    -- so the aggregate is an index-only scan on this append-only table. The bot-wide board keeps using the BRIN index.
    CREATE INDEX tips_guild_leaderboard_idx ON tips (guild_id, currency, created_at) INCLUDE (sender_id, amount)
      WHERE guild_id IS NOT NULL;

    -- The airdrop-expiry job deletes long-expired confirmations in batches, oldest first.
    CREATE INDEX tip_confirmations_expires_idx ON tip_confirmations (expires_at);
  `.execute(db);

  await sql`DROP FUNCTION ${OLD_SIGNATURE}`.execute(db);
  await sql`${sql.raw(ledgerTip(true))}`.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP FUNCTION ${NEW_SIGNATURE}`.execute(db);
  await sql`${sql.raw(ledgerTip(false))}`.execute(db);
  await sql`
    DROP INDEX tip_confirmations_expires_idx;
    DROP INDEX tips_guild_leaderboard_idx;
    ALTER TABLE tips DROP COLUMN guild_id;
  `.execute(db);
}

/**
 * ledger_tip() as of 2026_11_23_001000 (`withGuild` false) or with the guild parameter. Apart from the guild the
 * body is unchanged: users, idempotency claim, receiver balance rows, journal, locks in user_id order, one UPDATE.
 */
function ledgerTip(withGuild: boolean): string {
  return `
    CREATE FUNCTION ledger_tip(
      p_interaction text, p_kind text, p_currency text, p_each numeric, p_note text,
      p_sender_discord text, p_sender_name text, p_receiver_discord text[], p_receiver_names text[]${withGuild ? ',\n      p_guild text DEFAULT NULL' : ''}
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
        INSERT INTO tips (interaction_id, leg, kind, sender_id, receiver_id, amount, currency, note${withGuild ? ', guild_id' : ''})
        SELECT p_interaction, (r.ord - 1)::smallint, p_kind, v_sender, r.id, p_each, p_currency, p_note${withGuild ? ', p_guild' : ''}
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
  `;
}
