import { sql, type Kysely } from 'kysely';

// Frozen: never import application code here.
//
// Issue 18, WAL diet of the tip path (measured with scripts/bench/tips-wal.ts; bytes per tip at 8 clients, uniform):
// - the receiver's in-place credit no longer writes a row-lock record first (FOR UPDATE SKIP LOCKED → a check of the
//   row version's xmax plus a try-lock on an advisory lock, see the comment in the function): −54 B;
// - duplicate attempts of one interaction take turns on an advisory lock instead of each tip running its journal
//   INSERT in a subtransaction (exception block): −12 B in every commit record, and the subtransaction's CPU.
// Same signature and result as 2026_11_28_190100; the journal, its rows and its indexes are unchanged.
// Built on 2026_11_28_220000_ledger_tip_fold's body (no aggregate written on the tip path; the ledger-rollup job folds).
// Every index a tip leg writes is needed by a query; the catalog now says which (COMMENT ON INDEX), so the next one to
// add an index to the journal sees what each entry costs for. A tip writes no other index: journal_guild_revenue_idx
// is partial (subscription types only), the journal has no primary key (dropped in 130000), and its BRIN
// (journal_created_brin, 220000) costs a tip nothing while its row lands in the heap's unsummarized end.

const INDEX_COMMENTS: Array<[string, string]> = [
  ['journal_idempotency_key_key', 'Exactly-once claim of every journal entry: ledger_tip() probe and replay, insertJournal ON CONFLICT (ledger.repository.ts).'],
  ['journal_from_user_idx', 'Sent side of /history (historyPage, historyCount, historyIdAt) and the repeat-tip check (tipPrecheck), ledger.repository.ts.'],
  ['journal_to_user_idx', 'Received side of /history (historyPage, historyCount, historyIdAt), ledger.repository.ts.'],
  ['balance_credits_owner_idx', 'Unfolded credits by owner: account_balances reads, ledger_debit() probe and fold, ledger_fold().'],
];

const SIGNATURE = sql`ledger_tip(text, text, text, numeric, text, text, text, text[], text[], text, bigint, text, text)`;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`DROP FUNCTION ${SIGNATURE}`.execute(db);
  await sql`${sql.raw(LEDGER_TIP)}`.execute(db);
  for (const [index, why] of INDEX_COMMENTS) await sql`COMMENT ON INDEX ${sql.id(index)} IS ${sql.lit(why)}`.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP FUNCTION ${SIGNATURE}`.execute(db);
  await sql`${sql.raw(LEDGER_TIP_220000)}`.execute(db);
  for (const [index] of INDEX_COMMENTS) await sql`COMMENT ON INDEX ${sql.id(index)} IS NULL`.execute(db);
}

const LEDGER_TIP = `
    CREATE FUNCTION ledger_tip(
      p_interaction text, p_kind text, p_currency text, p_each numeric, p_note text,
      p_sender_discord text, p_sender_name text, p_receiver_discord text[], p_receiver_names text[],
      p_guild text DEFAULT NULL,
      p_api_environment bigint DEFAULT NULL, p_api_key text DEFAULT NULL, p_api_body_hash text DEFAULT NULL
    ) RETURNS TABLE (replayed boolean, tip_ids bigint[], sender_id bigint, receiver_ids bigint[], each_amount numeric, sender_balance numeric)
    LANGUAGE plpgsql AS $$
    DECLARE
      v_sender bigint;
      v_sender_blocked boolean;
      v_receivers bigint[];
      v_blocked text;
      v_blocked_name text;
      v_unknown text;
      v_hash text;
      v_keys text[];
      v_tip_ids bigint[];
      v_direct bigint[];
      v_total numeric(39, 0);
      v_balance numeric(39, 0);
    BEGIN
      IF p_api_key IS NOT NULL THEN
        -- The partner API's Idempotency-Key, claimed in the tip's own transaction: a tip that fails frees it by rolling
        -- back, and a concurrent request with the same key waits here for the first one and then replays it. The
        -- table is UNLOGGED, so the claim adds no WAL.
        INSERT INTO api_idempotency_keys AS k (environment_id, key, body_hash) VALUES (p_api_environment, p_api_key, p_api_body_hash)
        ON CONFLICT (environment_id, key) DO NOTHING
        RETURNING k.body_hash INTO v_hash;
        IF v_hash IS NULL THEN
          SELECT k.body_hash INTO v_hash FROM api_idempotency_keys k WHERE k.environment_id = p_api_environment AND k.key = p_api_key;
        END IF;
        IF v_hash IS DISTINCT FROM p_api_body_hash THEN
          RAISE EXCEPTION USING ERRCODE = 'SB005', MESSAGE = 'idempotency key used with another request body';
        END IF;
        -- The API names members by id only: an id the bot has never seen is refused, never created.
        SELECT r.d INTO v_unknown FROM unnest(p_receiver_discord) AS r(d)
        WHERE NOT EXISTS (SELECT 1 FROM users x WHERE x.discord_id = r.d) LIMIT 1;
        IF FOUND THEN
          RAISE EXCEPTION USING ERRCODE = 'SB006', MESSAGE = 'unknown receiver', DETAIL = v_unknown;
        END IF;
      END IF;

      -- Only unknown users are inserted: ON CONFLICT alone would still draw an identity value per known user.
      INSERT INTO users (discord_id, username)
      SELECT d, n FROM unnest(p_receiver_discord || p_sender_discord, p_receiver_names || p_sender_name) AS u(d, n)
      WHERE NOT EXISTS (SELECT 1 FROM users x WHERE x.discord_id = u.d)
      ORDER BY d
      ON CONFLICT (discord_id) DO NOTHING;

      SELECT u.id, u.is_blocked INTO STRICT v_sender, v_sender_blocked FROM users u WHERE u.discord_id = p_sender_discord;
      SELECT array_agg(u.id ORDER BY r.ord),
             (array_agg(u.discord_id ORDER BY r.ord) FILTER (WHERE u.is_blocked))[1],
             (array_agg(u.username ORDER BY r.ord) FILTER (WHERE u.is_blocked))[1]
      INTO v_receivers, v_blocked, v_blocked_name
      FROM unnest(p_receiver_discord) WITH ORDINALITY AS r(d, ord) JOIN users u ON u.discord_id = r.d;
      -- Blocked members, read in the tip's own snapshot without a row lock (FOR SHARE on a hot receiver's row would
      -- turn every tip to it into a MultiXact, and costs a WAL record per row). A block that commits while this tip
      -- runs is ordered after the tip: the block reads nothing the tip writes, so "tip, then block" is a serial order.
      IF v_sender_blocked THEN
        RAISE EXCEPTION USING ERRCODE = 'SB003', MESSAGE = 'sender blocked';
      END IF;
      IF v_blocked IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'SB004', MESSAGE = 'receiver blocked', DETAIL = v_blocked, HINT = v_blocked_name;
      END IF;
      v_keys := ARRAY(SELECT p_kind || ':' || p_interaction || ':' || (g - 1) FROM generate_series(1, cardinality(v_receivers)) g);

      -- The journal row is the tip leg; its idempotency key is the claim. Attempts of one interaction take turns on a
      -- transaction-level advisory lock (no WAL), so a concurrent duplicate waits for the first attempt and then finds
      -- its legs with the probe below and replays them. That replaces an exception block around the INSERT, whose
      -- subtransaction every tip paid for (12 bytes in each commit record, and its CPU) to catch the rare duplicate.
      -- A plain INSERT rather than ON CONFLICT: a speculative insertion writes an extra confirmation record per row.
      -- Two different interactions whose keys hash alike only take turns; the unique key still decides.
      PERFORM pg_advisory_xact_lock(x'5460'::integer, hashtext(p_kind || ':' || p_interaction)); -- namespace: tip interaction
      IF NOT EXISTS (SELECT 1 FROM journal WHERE idempotency_key = ANY (v_keys)) THEN
        WITH ins AS (
          INSERT INTO journal (type, from_user_id, to_user_id, amount, currency, idempotency_key, note, guild_id)
          SELECT p_kind, v_sender, r.id, p_each, p_currency, v_keys[r.ord], p_note, p_guild
          FROM unnest(v_receivers) WITH ORDINALITY AS r(id, ord)
          RETURNING id
        )
        SELECT array_agg(id ORDER BY id) INTO v_tip_ids FROM ins;
      END IF;

      IF v_tip_ids IS NULL THEN
        -- A replay returns every leg of the first attempt (as many as it had: tips and rain have at most 25); a retry
        -- naming more recipients than the first attempt is a different tip under the same id.
        RETURN QUERY
          SELECT true,
                 array_agg(CASE WHEN j.ref ~ '^tip:[0-9]+$' THEN substr(j.ref, 5)::bigint ELSE j.id END ORDER BY l.leg),
                 j.from_user_id, array_agg(j.to_user_id ORDER BY l.leg), min(j.amount),
                 coalesce((SELECT a.amount FROM account_balances a WHERE a.user_id = j.from_user_id AND a.currency = j.currency), 0)
          FROM generate_series(0, 99) AS l(leg) JOIN journal j ON j.idempotency_key = p_kind || ':' || p_interaction || ':' || l.leg
          GROUP BY j.from_user_id, j.currency
          HAVING count(*) >= cardinality(v_receivers);
        IF NOT FOUND THEN
          RAISE EXCEPTION USING ERRCODE = 'SB002', MESSAGE = 'idempotency key reused with different recipients';
        END IF;
        RETURN;
      END IF;

      -- The sender's row is the only lock a tip waits for; after it, nothing below waits on another transaction.
      v_total := p_each * cardinality(v_receivers);
      v_balance := ledger_debit(v_sender, p_currency, v_total);
      IF v_balance IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'SB001', MESSAGE = 'insufficient funds', DETAIL = coalesce(
          (SELECT a.amount FROM account_balances a WHERE a.user_id = v_sender AND a.currency = p_currency), 0)::text;
      END IF;

      -- Receivers are not waited for: a row nobody holds is credited in place (a HOT update, no extra row); a held
      -- one (a hot receiver) or a missing one gets an unfolded credit instead. "Nobody holds it" is first read from
      -- the row version itself: its xmax is 0 unless a transaction has updated or locked it. That costs no WAL, where
      -- FOR UPDATE SKIP LOCKED writes a row-lock record (54 B) before every in-place credit. Tips that find the same
      -- free row at once (a hot receiver between two credits) must not queue for it: each also needs a try-lock on
      -- the receiver (transaction-level advisory lock, namespace 0x5461, no WAL), and the losers append credits. A row
      -- with an xmax that may be over (a rolled-back tip's lock, a committed lock-only) goes the SKIP LOCKED way
      -- once; its update clears the xmax for the next tip. Between the xmax read and the UPDATE's own lock a
      -- transaction that is not crediting (a debit of that member, the fold job) can take the row, a window of
      -- microseconds, and the UPDATE then waits for it. Tips cannot wait on each other in a cycle that way (each one's
      -- locks are all taken before the read that let it wait, so a cycle would order those reads before themselves); a
      -- cycle with a writer that locks several rows unconditionally ends in the deadlock detector, and LedgerService
      -- retries the tip.
      WITH upd AS (
        UPDATE balances b SET amount = b.amount + p_each
        WHERE b.currency = p_currency AND b.user_id = ANY (v_receivers)
          AND CASE WHEN b.xmax = '0'::xid THEN pg_try_advisory_xact_lock(x'5461'::integer, (b.user_id % 2147483647)::integer) ELSE false END
        RETURNING b.user_id
      )
      SELECT coalesce(array_agg(user_id), '{}') INTO v_direct FROM upd;
      IF cardinality(v_direct) < cardinality(v_receivers) THEN
        WITH got AS (
          SELECT b.id FROM balances b
          -- xmax 0 here means another tip won the try-lock: leave the row to it rather than make it wait for us.
          WHERE b.currency = p_currency AND b.user_id = ANY (v_receivers) AND b.user_id <> ALL (v_direct) AND b.xmax <> '0'::xid
          FOR UPDATE SKIP LOCKED
        ), upd AS (
          UPDATE balances b SET amount = b.amount + p_each FROM got WHERE b.id = got.id RETURNING b.user_id
        )
        SELECT v_direct || coalesce(array_agg(user_id), '{}') INTO v_direct FROM upd;
      END IF;
      INSERT INTO balance_credits (user_id, currency, amount)
      SELECT r, p_currency, p_each FROM unnest(v_receivers) AS r WHERE r <> ALL (v_direct);

      RETURN QUERY SELECT false, v_tip_ids, v_sender, v_receivers, p_each, v_balance;
    END $$;
`;

/** ledger_tip() exactly as migration 2026_11_28_220000_ledger_tip_fold created it (restored by down). */
const LEDGER_TIP_220000 = `
    CREATE FUNCTION ledger_tip(
      p_interaction text, p_kind text, p_currency text, p_each numeric, p_note text,
      p_sender_discord text, p_sender_name text, p_receiver_discord text[], p_receiver_names text[],
      p_guild text DEFAULT NULL,
      p_api_environment bigint DEFAULT NULL, p_api_key text DEFAULT NULL, p_api_body_hash text DEFAULT NULL
    ) RETURNS TABLE (replayed boolean, tip_ids bigint[], sender_id bigint, receiver_ids bigint[], each_amount numeric, sender_balance numeric)
    LANGUAGE plpgsql AS $$
    DECLARE
      v_sender bigint;
      v_sender_blocked boolean;
      v_receivers bigint[];
      v_blocked text;
      v_blocked_name text;
      v_unknown text;
      v_hash text;
      v_keys text[];
      v_tip_ids bigint[];
      v_direct bigint[];
      v_total numeric(39, 0);
      v_balance numeric(39, 0);
    BEGIN
      IF p_api_key IS NOT NULL THEN
        -- The partner API's Idempotency-Key, claimed in the tip's own transaction: a tip that fails frees it by rolling
        -- back, and a concurrent request with the same key waits here for the first one and then replays it. The
        -- table is UNLOGGED, so the claim adds no WAL.
        INSERT INTO api_idempotency_keys AS k (environment_id, key, body_hash) VALUES (p_api_environment, p_api_key, p_api_body_hash)
        ON CONFLICT (environment_id, key) DO NOTHING
        RETURNING k.body_hash INTO v_hash;
        IF v_hash IS NULL THEN
          SELECT k.body_hash INTO v_hash FROM api_idempotency_keys k WHERE k.environment_id = p_api_environment AND k.key = p_api_key;
        END IF;
        IF v_hash IS DISTINCT FROM p_api_body_hash THEN
          RAISE EXCEPTION USING ERRCODE = 'SB005', MESSAGE = 'idempotency key used with another request body';
        END IF;
        -- The API names members by id only: an id the bot has never seen is refused, never created.
        SELECT r.d INTO v_unknown FROM unnest(p_receiver_discord) AS r(d)
        WHERE NOT EXISTS (SELECT 1 FROM users x WHERE x.discord_id = r.d) LIMIT 1;
        IF FOUND THEN
          RAISE EXCEPTION USING ERRCODE = 'SB006', MESSAGE = 'unknown receiver', DETAIL = v_unknown;
        END IF;
      END IF;

      -- Only unknown users are inserted: ON CONFLICT alone would still draw an identity value per known user.
      INSERT INTO users (discord_id, username)
      SELECT d, n FROM unnest(p_receiver_discord || p_sender_discord, p_receiver_names || p_sender_name) AS u(d, n)
      WHERE NOT EXISTS (SELECT 1 FROM users x WHERE x.discord_id = u.d)
      ORDER BY d
      ON CONFLICT (discord_id) DO NOTHING;

      SELECT u.id, u.is_blocked INTO STRICT v_sender, v_sender_blocked FROM users u WHERE u.discord_id = p_sender_discord;
      SELECT array_agg(u.id ORDER BY r.ord),
             (array_agg(u.discord_id ORDER BY r.ord) FILTER (WHERE u.is_blocked))[1],
             (array_agg(u.username ORDER BY r.ord) FILTER (WHERE u.is_blocked))[1]
      INTO v_receivers, v_blocked, v_blocked_name
      FROM unnest(p_receiver_discord) WITH ORDINALITY AS r(d, ord) JOIN users u ON u.discord_id = r.d;
      -- Blocked members, read in the tip's own snapshot without a row lock (FOR SHARE on a hot receiver's row would
      -- turn every tip to it into a MultiXact, and costs a WAL record per row). A block that commits while this tip
      -- runs is ordered after the tip: the block reads nothing the tip writes, so "tip, then block" is a serial order.
      IF v_sender_blocked THEN
        RAISE EXCEPTION USING ERRCODE = 'SB003', MESSAGE = 'sender blocked';
      END IF;
      IF v_blocked IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'SB004', MESSAGE = 'receiver blocked', DETAIL = v_blocked, HINT = v_blocked_name;
      END IF;
      v_keys := ARRAY(SELECT p_kind || ':' || p_interaction || ':' || (g - 1) FROM generate_series(1, cardinality(v_receivers)) g);

      -- The journal row is the tip leg; its idempotency key is the claim. A plain INSERT rather than ON CONFLICT: a
      -- speculative insertion writes an extra confirmation record to the WAL for every row. A retry after the first
      -- attempt committed is caught by the probe; a concurrent duplicate waits on the key, gets unique_violation once
      -- the first commits, and replays (the exception block's subtransaction is the price of that rare case).
      IF NOT EXISTS (SELECT 1 FROM journal WHERE idempotency_key = ANY (v_keys)) THEN
        BEGIN
          WITH ins AS (
            INSERT INTO journal (type, from_user_id, to_user_id, amount, currency, idempotency_key, note, guild_id)
            SELECT p_kind, v_sender, r.id, p_each, p_currency, v_keys[r.ord], p_note, p_guild
            FROM unnest(v_receivers) WITH ORDINALITY AS r(id, ord)
            RETURNING id
          )
          SELECT array_agg(id ORDER BY id) INTO v_tip_ids FROM ins;
        EXCEPTION WHEN unique_violation THEN
          v_tip_ids := NULL;
        END;
      END IF;

      IF v_tip_ids IS NULL THEN
        -- A replay returns every leg of the first attempt (as many as it had: tips and rain have at most 25); a retry
        -- naming more recipients than the first attempt is a different tip under the same id.
        RETURN QUERY
          SELECT true,
                 array_agg(CASE WHEN j.ref ~ '^tip:[0-9]+$' THEN substr(j.ref, 5)::bigint ELSE j.id END ORDER BY l.leg),
                 j.from_user_id, array_agg(j.to_user_id ORDER BY l.leg), min(j.amount),
                 coalesce((SELECT a.amount FROM account_balances a WHERE a.user_id = j.from_user_id AND a.currency = j.currency), 0)
          FROM generate_series(0, 99) AS l(leg) JOIN journal j ON j.idempotency_key = p_kind || ':' || p_interaction || ':' || l.leg
          GROUP BY j.from_user_id, j.currency
          HAVING count(*) >= cardinality(v_receivers);
        IF NOT FOUND THEN
          RAISE EXCEPTION USING ERRCODE = 'SB002', MESSAGE = 'idempotency key reused with different recipients';
        END IF;
        RETURN;
      END IF;

      -- The sender's row is the only lock a tip waits for; after it, nothing below waits on another transaction.
      v_total := p_each * cardinality(v_receivers);
      v_balance := ledger_debit(v_sender, p_currency, v_total);
      IF v_balance IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'SB001', MESSAGE = 'insufficient funds', DETAIL = coalesce(
          (SELECT a.amount FROM account_balances a WHERE a.user_id = v_sender AND a.currency = p_currency), 0)::text;
      END IF;

      -- Receivers are never waited for: a row nobody holds is credited in place (a HOT update, no extra row); a held
      -- one (a hot receiver) or a missing one gets an unfolded credit instead. Waiting only for the sender's row also
      -- means A→B and B→A cannot deadlock, whatever the order.
      WITH got AS (
        SELECT b.id FROM balances b WHERE b.currency = p_currency AND b.user_id = ANY (v_receivers) FOR UPDATE SKIP LOCKED
      ), upd AS (
        UPDATE balances b SET amount = b.amount + p_each FROM got WHERE b.id = got.id RETURNING b.user_id
      )
      SELECT array_agg(user_id) INTO v_direct FROM upd;
      INSERT INTO balance_credits (user_id, currency, amount)
      SELECT r, p_currency, p_each FROM unnest(v_receivers) AS r WHERE v_direct IS NULL OR r <> ALL (v_direct);

      RETURN QUERY SELECT false, v_tip_ids, v_sender, v_receivers, p_each, v_balance;
    END $$;
`;
