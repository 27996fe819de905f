import { sql, type Kysely } from 'kysely';

// Frozen: never import application code here.
//
// Issue 18, leaderboard at 10M tips. tip_totals_daily has one row per (guild, currency, UTC day, sender), so a board
// over a long period summed millions of rows. Closed days (older than yesterday: no tip transaction can still write
// them, since a tip's day is its transaction's start) are folded by the ledger-rollup job into per-(guild, sender)
// totals for each board period that has closed days: all time, and the closed part of the 7- and 30-day windows.
// A board is then the top-K (WITH TIES) of the rollup's total index ∪ the senders of the open days, re-summed. That
// is exact: a sender outside both sets has only its rollup total, which at least K candidates reach or beat.
//
// Windows slide: the window of `week` is the UTC day 7 days ago through today, so its closed part is the 6 days
// ending the day before yesterday (`month`: 29 days). Each fold adds the days entering a window and subtracts the
// days leaving it, so a day's fold costs two days of rows whatever the history. The window rows are valid only when
// the watermark is exactly the day before yesterday; until the job has run after midnight the board sums the
// per-day rows instead (correct, just slower for a minute).
//
// Exactly once: the watermark (last folded day) is read FOR UPDATE and moved in the fold's own transaction, so a
// second fold waits and then finds nothing left, and a crash folds nothing. A closed day's rows never change again.
//
// `guild_id` '*' holds the bot-wide board (every guild and DMs; '' stays DMs only, as in tip_totals_daily).

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE tip_totals_rollup (
      period text NOT NULL CHECK (period IN ('all', 'week', 'month')),
      guild_id text NOT NULL, -- '*' = bot-wide
      currency text NOT NULL,
      sender_id bigint NOT NULL,
      total numeric(39, 0) NOT NULL,
      tips bigint NOT NULL,
      -- The fold's upsert, and a board's re-sum of its candidates.
      PRIMARY KEY (period, guild_id, currency, sender_id)
    );
    -- A board's top-K of the closed days.
    CREATE INDEX tip_totals_rollup_top_idx ON tip_totals_rollup (period, guild_id, currency, total DESC);

    CREATE TABLE tip_totals_rollup_state (
      singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
      folded_through date NOT NULL -- the last UTC day folded into tip_totals_rollup
    );
    INSERT INTO tip_totals_rollup_state (folded_through)
    SELECT coalesce(min(day) - 1, (now() AT TIME ZONE 'UTC')::date - 2) FROM tip_totals_daily;

    -- Day-first instead of (currency, day): the fold reads whole days of every currency, and a bot-wide board reads
    -- the open days (a short day range) of one currency. Same write cost per tip.
    DROP INDEX tip_totals_daily_currency_day_idx;
    CREATE INDEX tip_totals_daily_day_idx ON tip_totals_daily (day, currency);
  `.execute(db);

  await sql`
    -- Folds the closed days after the watermark, at most p_max_days of them, in one transaction; returns how many.
    -- p_today is the UTC day the caller considers today (the job passes nothing; tests replay history).
    CREATE FUNCTION ledger_rollup(p_today date DEFAULT (now() AT TIME ZONE 'UTC')::date, p_max_days integer DEFAULT 31)
    RETURNS integer LANGUAGE plpgsql AS $$
    DECLARE
      v_from date; -- already folded through this day
      v_to date;   -- this call folds through this day
    BEGIN
      SELECT folded_through INTO STRICT v_from FROM tip_totals_rollup_state FOR UPDATE;
      v_to := least(p_today - 2, v_from + p_max_days);
      IF v_to <= v_from THEN
        RETURN 0;
      END IF;

      -- Window lengths in closed days: a board's window runs from the UTC day N days ago through today, and today
      -- and yesterday are open, so N - 1 of its days are closed (week 7 → 6, month 30 → 29).
      INSERT INTO tip_totals_rollup AS r (period, guild_id, currency, sender_id, total, tips)
      SELECT d.period, CASE WHEN grouping(d.guild_id) = 1 THEN '*' ELSE d.guild_id END, d.currency, d.sender_id,
             sum(d.total), sum(d.tips)
      FROM (
        SELECT 'all' AS period, t.guild_id, t.currency, t.sender_id, t.total, t.tips
        FROM tip_totals_daily t WHERE t.day > v_from AND t.day <= v_to
        UNION ALL
        SELECT 'week', t.guild_id, t.currency, t.sender_id, t.total, t.tips
        FROM tip_totals_daily t WHERE t.day > greatest(v_from, v_to - 6) AND t.day <= v_to
        UNION ALL
        SELECT 'week', t.guild_id, t.currency, t.sender_id, -t.total, -t.tips
        FROM tip_totals_daily t WHERE t.day > v_from - 6 AND t.day <= least(v_from, v_to - 6)
        UNION ALL
        SELECT 'month', t.guild_id, t.currency, t.sender_id, t.total, t.tips
        FROM tip_totals_daily t WHERE t.day > greatest(v_from, v_to - 29) AND t.day <= v_to
        UNION ALL
        SELECT 'month', t.guild_id, t.currency, t.sender_id, -t.total, -t.tips
        FROM tip_totals_daily t WHERE t.day > v_from - 29 AND t.day <= least(v_from, v_to - 29)
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
        WHERE t.day > v_from - 29 AND t.day <= least(v_from, v_to - 6)
      ) s
      WHERE r.period IN ('week', 'month') AND r.guild_id = s.g AND r.currency = s.currency AND r.sender_id = s.sender_id
        AND r.tips = 0;

      UPDATE tip_totals_rollup_state SET folded_through = v_to;
      RETURN v_to - v_from;
    END $$;
  `.execute(db);

  // History folds in one go here, so the first board after the deploy is already served by the rollup.
  await sql`SELECT ledger_rollup(p_max_days => 1000000)`.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP FUNCTION ledger_rollup(date, integer);
    DROP TABLE tip_totals_rollup_state;
    DROP TABLE tip_totals_rollup;
    DROP INDEX tip_totals_daily_day_idx;
    CREATE INDEX tip_totals_daily_currency_day_idx ON tip_totals_daily (currency, day);
  `.execute(db);
}
