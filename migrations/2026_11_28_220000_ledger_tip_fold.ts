import { sql, type Kysely } from 'kysely';

// Frozen: never import application code here.
//
// Issue 18, the per-tip aggregate write leaves the tip path, and bot-wide boards stop re-summing today's senders.
// Until now ledger_tip() updated (or inserted) a tip_totals_daily row in the sender's transaction for every tip: one
// more heap write, WAL record and row lock per tip. Now nothing on the tip path writes an aggregate; the ledger-rollup
// job folds committed tip legs from the journal every few seconds (ledger_fold_tips()) into tip_totals_open, one row
// per (guild, currency, UTC day, sender) with a HOT-updated total: one write per sender and batch. When a UTC day
// begins, or when it holds more than a few thousand rows, the open table is rolled (moved) into
//   - tip_totals_daily (per guild, currency, UTC day and sender, as before: the fallback boards and the window slide
//     read it), and
//   - tip_totals_rollup: 'all' and the sliding windows 'day', 'week' and 'month' (the UTC days window_day − 1, − 7 and
//     − 30 through window_day, BOARD_DAYS in ledger.repository.ts), for guild and bot-wide ('*'): nine writes per open
//     row, paid once per sender per roll instead of once per fold.
// A board is the rollup's top-K (WITH TIES) ∪ the senders of the open rows and of the unfolded tail (journal legs
// created at or after folded_until), re-summed: exact for the same reason as before (open rows and tail only add), and
// bounded (a few thousand open rows plus a few seconds of journal) whatever the day's traffic.
//
// The horizon (folded_until). A journal row's created_at is its transaction's start (now(), the server's clock, so
// replicas' clocks play no part). Every leg created before the horizon must be committed and visible when the fold
// reads, so the horizon is at most the start of the oldest transaction still running (pg_stat_activity.xact_start is
// the same value as that transaction's now(); a backend clears it only after its commit is visible to new
// snapshots), and a small margin behind the fold's own now() covers a transaction that has taken its start time but
// not yet published it. A backend the fold may not see (another role without pg_read_all_stats), a prepared
// transaction (its start is unknown) or an isolation level above READ COMMITTED (the snapshot would predate the
// check) hold the horizon where it is: folding can only be late, never early. A late fold costs read time (a longer
// tail), not exactness. The only way to lose a leg from the boards is a server clock stepping back by more than the
// margin.
//
// The tail is found through journal_created_brin (BRIN on created_at, 16 pages per range). A BRIN index costs a tip
// nothing while its row lands in a range that is not summarized yet (the heap's growing end); the job summarizes the
// ranges behind the end itself (brin_summarize_range), so the tail a board scans is the last range or two. Boards read
// folded_until and then the tail in one REPEATABLE READ snapshot, so the tail starts exactly where the fold stopped.
//
// Windows slide when the fold first runs on a new UTC day: the open rows are rolled first, then the days leaving each
// window are subtracted (from tip_totals_daily, which then holds every folded leg of them), before any leg of the new
// day is folded. Until then (seconds after midnight) boards of a window sum the per-day rows, the open rows and the
// tail instead.
//
// Deploy: tips that run the old ledger_tip() while this migration commits (another replica, mid-rollout) wrote their
// own per-day row; the migration locks tip_totals_daily first, so those that started before it are in the per-day
// rows it folds, and the horizon is taken at its end. A tip that starts in the instant between that and the commit
// and still runs the old body would be counted twice on the boards; migrations run before the bot serves.

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Db = Kysely<any>;

/** The board windows in days before window_day (the same lengths as BOARD_DAYS), as a VALUES list. */
const WINDOWS = `(VALUES ('day', 1), ('week', 7), ('month', 30))`;

export async function up(db: Db): Promise<void> {
  await sql`
    LOCK TABLE tip_totals_daily IN EXCLUSIVE MODE;
    LOCK TABLE tip_totals_rollup_state IN EXCLUSIVE MODE;
    ${sql.raw(LEDGER_TIP)};

    ALTER TABLE tip_totals_rollup DROP CONSTRAINT tip_totals_rollup_period_check,
      ADD CONSTRAINT tip_totals_rollup_period_check CHECK (period IN ('all', 'day', 'week', 'month'));
    ALTER TABLE tip_totals_rollup_state
      ADD COLUMN folded_until timestamptz, -- every tip leg created before this is in the aggregates, none after
      ADD COLUMN window_day date;          -- the UTC day the window rows ('day', 'week', 'month') end on
    -- Folded legs not rolled into tip_totals_daily and the rollup yet: a few thousand rows at most (p_max_open), so a
    -- board re-sums them whole. No index on total: a fold's += is a HOT update.
    CREATE TABLE tip_totals_open (
      guild_id text NOT NULL, -- '' = DMs
      currency text NOT NULL,
      day date NOT NULL,      -- UTC
      sender_id bigint NOT NULL,
      total numeric(39, 0) NOT NULL,
      tips bigint NOT NULL,
      -- The fold's upsert; a guild board's rows.
      PRIMARY KEY (guild_id, currency, day, sender_id)
    ) WITH (fillfactor = 70);
    -- The fold's batch and a board's unfolded tail: journal rows created after a recent instant.
    CREATE INDEX journal_created_brin ON journal USING brin (created_at) WITH (pages_per_range = 16, autosummarize = on);
    DROP FUNCTION ledger_rollup(date, integer);
  `.execute(db);

  await sql`
    -- 'all' gains the per-day rows after the old watermark (yesterday and today: every tip so far wrote one).
    INSERT INTO tip_totals_rollup AS r (period, guild_id, currency, sender_id, total, tips)
    SELECT 'all', coalesce(t.guild_id, '*'), t.currency, t.sender_id, sum(t.total), sum(t.tips)
    FROM tip_totals_rollup_state s JOIN tip_totals_daily t ON t.day > s.folded_through
    GROUP BY GROUPING SETS ((t.guild_id, t.currency, t.sender_id), (t.currency, t.sender_id))
    ORDER BY 2, 3, 4
    ON CONFLICT (period, guild_id, currency, sender_id) DO UPDATE SET total = r.total + excluded.total, tips = r.tips + excluded.tips;

    UPDATE tip_totals_rollup_state SET folded_until = clock_timestamp();
    UPDATE tip_totals_rollup_state SET window_day = (folded_until AT TIME ZONE 'UTC')::date;
    ALTER TABLE tip_totals_rollup_state ALTER COLUMN folded_until SET NOT NULL, ALTER COLUMN window_day SET NOT NULL;

    DELETE FROM tip_totals_rollup WHERE period IN ('week', 'month');
    INSERT INTO tip_totals_rollup (period, guild_id, currency, sender_id, total, tips)
    SELECT w.period, coalesce(t.guild_id, '*'), t.currency, t.sender_id, sum(t.total), sum(t.tips)
    FROM tip_totals_rollup_state s CROSS JOIN ${sql.raw(WINDOWS)} AS w(period, keep)
    JOIN tip_totals_daily t ON t.day >= s.window_day - w.keep
    GROUP BY GROUPING SETS ((w.period, t.guild_id, t.currency, t.sender_id), (w.period, t.currency, t.sender_id));
    ANALYZE tip_totals_rollup;
  `.execute(db);

  await sql`
    -- Folds the tip legs created in [folded_until, horizon) into tip_totals_open, at most p_max_span of time per call
    -- (the job calls again while caught_up is false); first rolls tip_totals_open into tip_totals_daily and the rollup
    -- when a UTC day has begun or it holds more than p_max_open rows. p_now is the fold's "now" (tests replay
    -- history); the horizon is never later than the start of a transaction still running. See the header of
    -- migration 2026_11_28_220000_ledger_tip_fold.
    CREATE FUNCTION ledger_fold_tips(p_now timestamptz DEFAULT now(), p_max_span interval DEFAULT '5 minutes',
                                     p_margin interval DEFAULT '2 seconds', p_max_open integer DEFAULT 2000)
    RETURNS TABLE (folded bigint, caught_up boolean) LANGUAGE plpgsql AS $$
    DECLARE
      v_until timestamptz; -- folded before this
      v_window date;
      v_today date := (p_now AT TIME ZONE 'UTC')::date;
      v_horizon timestamptz;
      v_to timestamptz;
      v_rows bigint;
    BEGIN
      SELECT s.folded_until, s.window_day INTO STRICT v_until, v_window FROM tip_totals_rollup_state s FOR UPDATE;

      IF v_window < v_today OR (SELECT count(*) > p_max_open FROM (SELECT 1 FROM tip_totals_open LIMIT p_max_open + 1) o) THEN
        -- Roll the open rows into the per-day rows and the rollup (the windows as of window_day: every open row's
        -- day is at most window_day), then empty it.
        WITH gone AS (
          DELETE FROM tip_totals_open RETURNING guild_id, currency, day, sender_id, total, tips
        ), daily AS (
          INSERT INTO tip_totals_daily AS d (guild_id, currency, day, sender_id, total, tips)
          -- Day first: a day's rows sit together in the heap for the window slide.
          SELECT g.guild_id, g.currency, g.day, g.sender_id, g.total, g.tips FROM gone g ORDER BY 3, 1, 2, 4
          ON CONFLICT (guild_id, currency, day, sender_id) DO UPDATE SET total = d.total + excluded.total, tips = d.tips + excluded.tips
        )
        INSERT INTO tip_totals_rollup AS r (period, guild_id, currency, sender_id, total, tips)
        SELECT w.period, coalesce(g.guild_id, '*'), g.currency, g.sender_id, sum(g.total), sum(g.tips)
        FROM gone g JOIN (VALUES ('all', NULL::integer), ('day', 1), ('week', 7), ('month', 30)) AS w(period, keep)
          ON w.keep IS NULL OR g.day >= v_window - w.keep
        GROUP BY GROUPING SETS ((w.period, g.guild_id, g.currency, g.sender_id), (w.period, g.currency, g.sender_id))
        ORDER BY 1, 2, 3, 4
        ON CONFLICT (period, guild_id, currency, sender_id) DO UPDATE SET total = r.total + excluded.total, tips = r.tips + excluded.tips;
      END IF;

      IF v_window < v_today THEN
        -- A new UTC day: the days leaving each window go (the per-day rows now hold every folded leg of them).
        INSERT INTO tip_totals_rollup AS r (period, guild_id, currency, sender_id, total, tips)
        SELECT w.period, coalesce(t.guild_id, '*'), t.currency, t.sender_id, -sum(t.total), -sum(t.tips)
        FROM ${sql.raw(WINDOWS)} AS w(period, keep)
        JOIN tip_totals_daily t ON t.day >= v_window - w.keep AND t.day < v_today - w.keep
        GROUP BY GROUPING SETS ((w.period, t.guild_id, t.currency, t.sender_id), (w.period, t.currency, t.sender_id))
        ORDER BY 1, 2, 3, 4
        ON CONFLICT (period, guild_id, currency, sender_id) DO UPDATE SET total = r.total + excluded.total, tips = r.tips + excluded.tips;
        -- A sender whose days all left a window has no place on its board any more.
        DELETE FROM tip_totals_rollup r
        USING (
          SELECT DISTINCT x.g, t.currency, t.sender_id
          FROM tip_totals_daily t CROSS JOIN LATERAL (VALUES (t.guild_id), ('*')) AS x(g)
          WHERE t.day >= v_window - 30 AND t.day < v_today - 1
        ) s
        WHERE r.period <> 'all' AND r.guild_id = s.g AND r.currency = s.currency AND r.sender_id = s.sender_id AND r.tips = 0;
        v_window := v_today;
      END IF;

      IF current_setting('transaction_isolation') <> 'read committed'
         OR EXISTS (SELECT 1 FROM pg_prepared_xacts)
         OR EXISTS (SELECT 1 FROM pg_stat_activity a
                    WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid() AND a.xact_start IS NULL AND a.state IS NULL) THEN
        v_horizon := v_until;
      ELSE
        SELECT least(p_now - p_margin, min(a.xact_start)) INTO v_horizon
        FROM pg_stat_activity a WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid();
      END IF;
      v_to := least(v_horizon, v_until + p_max_span);
      IF v_to <= v_until THEN
        UPDATE tip_totals_rollup_state SET window_day = v_window WHERE window_day IS DISTINCT FROM v_window;
        RETURN QUERY SELECT 0::bigint, true;
        RETURN;
      END IF;

      -- A separate statement from the horizon check: in READ COMMITTED its snapshot is taken after it. One write per
      -- (guild, currency, day, sender) of the batch, a HOT update once the sender has a row.
      WITH legs AS (
        SELECT coalesce(j.guild_id, '') AS guild_id, j.currency, (j.created_at AT TIME ZONE 'UTC')::date AS day,
               j.from_user_id AS sender_id, sum(j.amount) AS total, count(*) AS tips
        FROM journal j
        WHERE j.created_at >= v_until AND j.created_at < v_to AND j.type IN ('tip', 'rain')
        GROUP BY 1, 2, 3, 4
      ), opened AS (
        INSERT INTO tip_totals_open AS o (guild_id, currency, day, sender_id, total, tips)
        SELECT l.guild_id, l.currency, l.day, l.sender_id, l.total, l.tips FROM legs l ORDER BY 1, 2, 3, 4
        ON CONFLICT (guild_id, currency, day, sender_id) DO UPDATE SET total = o.total + excluded.total, tips = o.tips + excluded.tips
      )
      SELECT coalesce(sum(l.tips), 0) INTO v_rows FROM legs l;

      UPDATE tip_totals_rollup_state SET folded_until = v_to, window_day = v_window;
      RETURN QUERY SELECT v_rows, v_to = v_horizon;
    END $$;
  `.execute(db);
}

export async function down(db: Db): Promise<void> {
  await sql`
    LOCK TABLE tip_totals_daily IN EXCLUSIVE MODE;
    LOCK TABLE tip_totals_rollup_state IN EXCLUSIVE MODE;
    ${sql.raw(LEDGER_TIP_190100)};
    DROP FUNCTION ledger_fold_tips(timestamptz, interval, interval, integer);
    DELETE FROM tip_totals_rollup WHERE period <> 'all';

    -- The open rows into the per-day rows and 'all'.
    WITH gone AS (DELETE FROM tip_totals_open RETURNING guild_id, currency, day, sender_id, total, tips),
    daily AS (
      INSERT INTO tip_totals_daily AS d (guild_id, currency, day, sender_id, total, tips)
      SELECT g.guild_id, g.currency, g.day, g.sender_id, g.total, g.tips FROM gone g
      ON CONFLICT (guild_id, currency, day, sender_id) DO UPDATE SET total = d.total + excluded.total, tips = d.tips + excluded.tips
    )
    INSERT INTO tip_totals_rollup AS r (period, guild_id, currency, sender_id, total, tips)
    SELECT 'all', coalesce(g.guild_id, '*'), g.currency, g.sender_id, sum(g.total), sum(g.tips) FROM gone g
    GROUP BY GROUPING SETS ((g.guild_id, g.currency, g.sender_id), (g.currency, g.sender_id))
    ORDER BY 2, 3, 4
    ON CONFLICT (period, guild_id, currency, sender_id) DO UPDATE SET total = r.total + excluded.total, tips = r.tips + excluded.tips;
    DROP TABLE tip_totals_open;

    -- The unfolded tail into the per-day rows and 'all': the old ledger_tip() keeps the per-day rows from here on.
    WITH legs AS (
      SELECT coalesce(j.guild_id, '') AS guild_id, j.currency, (j.created_at AT TIME ZONE 'UTC')::date AS day,
             j.from_user_id AS sender_id, sum(j.amount) AS total, count(*) AS tips
      FROM journal j, tip_totals_rollup_state s
      WHERE j.created_at >= s.folded_until AND j.type IN ('tip', 'rain')
      GROUP BY 1, 2, 3, 4
    ), daily AS (
      INSERT INTO tip_totals_daily AS d (guild_id, currency, day, sender_id, total, tips)
      SELECT l.guild_id, l.currency, l.day, l.sender_id, l.total, l.tips FROM legs l ORDER BY 1, 2, 3, 4
      ON CONFLICT (guild_id, currency, day, sender_id) DO UPDATE SET total = d.total + excluded.total, tips = d.tips + excluded.tips
    )
    INSERT INTO tip_totals_rollup AS r (period, guild_id, currency, sender_id, total, tips)
    SELECT 'all', coalesce(l.guild_id, '*'), l.currency, l.sender_id, sum(l.total), sum(l.tips) FROM legs l
    GROUP BY GROUPING SETS ((l.guild_id, l.currency, l.sender_id), (l.currency, l.sender_id))
    ORDER BY 2, 3, 4
    ON CONFLICT (period, guild_id, currency, sender_id) DO UPDATE SET total = r.total + excluded.total, tips = r.tips + excluded.tips;

    -- Back to the old watermark: 'all' through the day before yesterday (the old fold takes yesterday at its next run).
    UPDATE tip_totals_rollup_state SET folded_through = (now() AT TIME ZONE 'UTC')::date - 2;
    INSERT INTO tip_totals_rollup AS r (period, guild_id, currency, sender_id, total, tips)
    SELECT 'all', coalesce(t.guild_id, '*'), t.currency, t.sender_id, -sum(t.total), -sum(t.tips)
    FROM tip_totals_rollup_state s JOIN tip_totals_daily t ON t.day > s.folded_through
    GROUP BY GROUPING SETS ((t.guild_id, t.currency, t.sender_id), (t.currency, t.sender_id))
    ORDER BY 2, 3, 4
    ON CONFLICT (period, guild_id, currency, sender_id) DO UPDATE SET total = r.total + excluded.total, tips = r.tips + excluded.tips;
    DELETE FROM tip_totals_rollup WHERE tips = 0;
    -- The 7- and 30-day windows ending at the watermark, as migration 2026_11_28_210000 keeps them.
    INSERT INTO tip_totals_rollup (period, guild_id, currency, sender_id, total, tips)
    SELECT p.period, coalesce(t.guild_id, '*'), t.currency, t.sender_id, sum(t.total), sum(t.tips)
    FROM tip_totals_rollup_state s
    CROSS JOIN (VALUES ('week', 7), ('month', 30)) AS p(period, keep)
    JOIN tip_totals_daily t ON t.day <= s.folded_through AND t.day > s.folded_through - p.keep
    GROUP BY GROUPING SETS ((p.period, t.guild_id, t.currency, t.sender_id), (p.period, t.currency, t.sender_id))
    HAVING sum(t.tips) <> 0;

    ALTER TABLE tip_totals_rollup DROP CONSTRAINT tip_totals_rollup_period_check,
      ADD CONSTRAINT tip_totals_rollup_period_check CHECK (period IN ('all', 'week', 'month'));
    ALTER TABLE tip_totals_rollup_state DROP COLUMN folded_until, DROP COLUMN window_day;
    DROP INDEX journal_created_brin;
    ${sql.raw(LEDGER_ROLLUP_210000)};
  `.execute(db);
}

/** ledger_tip() as migration 2026_11_28_190100_ledger_tip_one_trip created it, minus the tip_totals_daily write. */
const LEDGER_TIP = `
    CREATE OR REPLACE FUNCTION ledger_tip(
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

/** ledger_tip() exactly as migration 2026_11_28_190100_ledger_tip_one_trip created it (restored by down). */
const LEDGER_TIP_190100 = `
    CREATE OR REPLACE FUNCTION ledger_tip(
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

      -- UPDATE first: an upsert's ON CONFLICT path writes a row-lock record to the WAL before its update, a plain
      -- UPDATE does not. The insert runs once per (guild, currency, day, sender).
      UPDATE tip_totals_daily d SET total = d.total + v_total, tips = d.tips + cardinality(v_receivers)
      WHERE d.guild_id = coalesce(p_guild, '') AND d.currency = p_currency AND d.day = (now() AT TIME ZONE 'UTC')::date
        AND d.sender_id = v_sender;
      IF NOT FOUND THEN
        INSERT INTO tip_totals_daily (guild_id, currency, day, sender_id, total, tips)
        VALUES (coalesce(p_guild, ''), p_currency, (now() AT TIME ZONE 'UTC')::date, v_sender, v_total, cardinality(v_receivers))
        ON CONFLICT ON CONSTRAINT tip_totals_daily_pkey -- the column list would clash with the OUT parameter sender_id
        DO UPDATE SET total = tip_totals_daily.total + excluded.total, tips = tip_totals_daily.tips + excluded.tips;
      END IF;

      RETURN QUERY SELECT false, v_tip_ids, v_sender, v_receivers, p_each, v_balance;
    END $$;
`;

/** ledger_rollup() exactly as migration 2026_11_28_210000_ledger_rollup_early_fold left it (restored by down). */
const LEDGER_ROLLUP_210000 = `
    CREATE OR REPLACE FUNCTION ledger_rollup(p_today date DEFAULT (now() AT TIME ZONE 'UTC')::date, p_max_days integer DEFAULT 31)
    RETURNS integer LANGUAGE plpgsql AS $$
    DECLARE
      v_from date; -- already folded through this day
      v_to date;   -- this call folds through this day
    BEGIN
      SELECT folded_through INTO STRICT v_from FROM tip_totals_rollup_state FOR UPDATE;
      v_to := least(CASE WHEN current_setting('transaction_isolation') = 'read committed'
            AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a
                            WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()
                              AND (a.xact_start < (p_today::timestamp AT TIME ZONE 'UTC') OR (a.xact_start IS NULL AND a.state IS NULL)))
            AND NOT EXISTS (SELECT 1 FROM pg_prepared_xacts)
          THEN p_today - 1 ELSE p_today - 2 END, v_from + p_max_days);
      IF v_to <= v_from THEN
        RETURN 0;
      END IF;

      INSERT INTO tip_totals_rollup AS r (period, guild_id, currency, sender_id, total, tips)
      SELECT d.period, CASE WHEN grouping(d.guild_id) = 1 THEN '*' ELSE d.guild_id END, d.currency, d.sender_id,
             sum(d.total), sum(d.tips)
      FROM (
        SELECT 'all' AS period, t.guild_id, t.currency, t.sender_id, t.total, t.tips
        FROM tip_totals_daily t WHERE t.day > v_from AND t.day <= v_to
        UNION ALL
        SELECT 'week', t.guild_id, t.currency, t.sender_id, t.total, t.tips
        FROM tip_totals_daily t WHERE t.day > greatest(v_from, v_to - 7) AND t.day <= v_to
        UNION ALL
        SELECT 'week', t.guild_id, t.currency, t.sender_id, -t.total, -t.tips
        FROM tip_totals_daily t WHERE t.day > v_from - 7 AND t.day <= least(v_from, v_to - 7)
        UNION ALL
        SELECT 'month', t.guild_id, t.currency, t.sender_id, t.total, t.tips
        FROM tip_totals_daily t WHERE t.day > greatest(v_from, v_to - 30) AND t.day <= v_to
        UNION ALL
        SELECT 'month', t.guild_id, t.currency, t.sender_id, -t.total, -t.tips
        FROM tip_totals_daily t WHERE t.day > v_from - 30 AND t.day <= least(v_from, v_to - 30)
      ) d
      GROUP BY GROUPING SETS ((d.period, d.guild_id, d.currency, d.sender_id), (d.period, d.currency, d.sender_id))
      ORDER BY 1, 2, 3, 4
      ON CONFLICT (period, guild_id, currency, sender_id)
      DO UPDATE SET total = r.total + excluded.total, tips = r.tips + excluded.tips;

      -- A sender whose days all left a window has no place on its board any more.
      DELETE FROM tip_totals_rollup r
      USING (
        SELECT DISTINCT x.g, t.currency, t.sender_id
        FROM tip_totals_daily t CROSS JOIN LATERAL (VALUES (t.guild_id), ('*')) AS x(g)
        WHERE t.day > v_from - 30 AND t.day <= least(v_from, v_to - 7)
      ) s
      WHERE r.period IN ('week', 'month') AND r.guild_id = s.g AND r.currency = s.currency AND r.sender_id = s.sender_id
        AND r.tips = 0;

      UPDATE tip_totals_rollup_state SET folded_through = v_to;
      RETURN v_to - v_from;
    END $$;
`;
