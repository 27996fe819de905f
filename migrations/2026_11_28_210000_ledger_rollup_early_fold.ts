import { sql, type Kysely } from 'kysely';

// Frozen: never import application code here.
//
// Issue 18, leaderboard p99. After 2026_11_28_190000 every sender of yesterday and today was a board candidate
// re-summed per query (≈ 37k rows bot-wide at 10M tips a year). Yesterday is now folded as soon as it is closed for
// good instead of a day later: a tip's day is its transaction's start (now()), so once no transaction that began
// before today's UTC midnight is still running, nothing can write yesterday again. ledger_rollup() checks that in
// pg_stat_activity (xact_start is the same clock as now(), and a backend clears it only after its commit is visible
// to new snapshots); a backend it may not see (another role without pg_read_all_stats) or a prepared transaction
// counts as running, so the check can only delay a fold, never make it early. The check and the fold are separate
// statements in READ COMMITTED, so the fold's snapshot is taken after the check; under a stricter isolation the
// function keeps the old rule (through the day before yesterday).
//
// The week and month rows therefore hold the whole closed part of the window when the watermark is yesterday: 7 and
// 30 days ending at the watermark (before: 6 and 29 ending the day before yesterday). Boards read them only while the
// watermark is yesterday and sum the per-day rows otherwise (the seconds after midnight until the job runs).

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Db = Kysely<any>;

/** ledger_rollup() with window lengths (closed days per window) and the last day it may fold, as SQL text. */
function rollupFunction(weekDays: number, monthDays: number, lastFoldable: string) {
  return sql.raw(`
    CREATE OR REPLACE FUNCTION ledger_rollup(p_today date DEFAULT (now() AT TIME ZONE 'UTC')::date, p_max_days integer DEFAULT 31)
    RETURNS integer LANGUAGE plpgsql AS $$
    DECLARE
      v_from date; -- already folded through this day
      v_to date;   -- this call folds through this day
    BEGIN
      SELECT folded_through INTO STRICT v_from FROM tip_totals_rollup_state FOR UPDATE;
      v_to := least(${lastFoldable}, v_from + p_max_days);
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
        FROM tip_totals_daily t WHERE t.day > greatest(v_from, v_to - ${weekDays}) AND t.day <= v_to
        UNION ALL
        SELECT 'week', t.guild_id, t.currency, t.sender_id, -t.total, -t.tips
        FROM tip_totals_daily t WHERE t.day > v_from - ${weekDays} AND t.day <= least(v_from, v_to - ${weekDays})
        UNION ALL
        SELECT 'month', t.guild_id, t.currency, t.sender_id, t.total, t.tips
        FROM tip_totals_daily t WHERE t.day > greatest(v_from, v_to - ${monthDays}) AND t.day <= v_to
        UNION ALL
        SELECT 'month', t.guild_id, t.currency, t.sender_id, -t.total, -t.tips
        FROM tip_totals_daily t WHERE t.day > v_from - ${monthDays} AND t.day <= least(v_from, v_to - ${monthDays})
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
        WHERE t.day > v_from - ${monthDays} AND t.day <= least(v_from, v_to - ${weekDays})
      ) s
      WHERE r.period IN ('week', 'month') AND r.guild_id = s.g AND r.currency = s.currency AND r.sender_id = s.sender_id
        AND r.tips = 0;

      UPDATE tip_totals_rollup_state SET folded_through = v_to;
      RETURN v_to - v_from;
    END $$;
  `);
}

/** Recomputes the week and month rows for windows of the given lengths ending at the watermark. */
async function rebuildWindows(db: Db, weekDays: number, monthDays: number) {
  await sql`
    DELETE FROM tip_totals_rollup WHERE period IN ('week', 'month');
    INSERT INTO tip_totals_rollup (period, guild_id, currency, sender_id, total, tips)
    SELECT p.period, coalesce(t.guild_id, '*'), t.currency, t.sender_id, sum(t.total), sum(t.tips)
    FROM tip_totals_rollup_state s
    CROSS JOIN (VALUES ('week', ${sql.lit(weekDays)}), ('month', ${sql.lit(monthDays)})) AS p(period, keep)
    JOIN tip_totals_daily t ON t.day <= s.folded_through AND t.day > s.folded_through - p.keep
    GROUP BY GROUPING SETS ((p.period, t.guild_id, t.currency, t.sender_id), (p.period, t.currency, t.sender_id))
    HAVING sum(t.tips) <> 0;
  `.execute(db);
}

export async function up(db: Db): Promise<void> {
  await rollupFunction(
    7,
    30,
    `CASE WHEN current_setting('transaction_isolation') = 'read committed'
            AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a
                            WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()
                              AND (a.xact_start < (p_today::timestamp AT TIME ZONE 'UTC') OR (a.xact_start IS NULL AND a.state IS NULL)))
            AND NOT EXISTS (SELECT 1 FROM pg_prepared_xacts)
          THEN p_today - 1 ELSE p_today - 2 END`,
  ).execute(db);
  await rebuildWindows(db, 7, 30);
  // Fresh statistics: with the ones from before the rebuild the fold below plans its DELETE join badly at 10M tips.
  await sql`ANALYZE tip_totals_rollup`.execute(db);
  // Folds yesterday now if it is closed, so the boards are on the rollup right after the deploy.
  await sql`SELECT ledger_rollup()`.execute(db);
}

export async function down(db: Db): Promise<void> {
  // The old rule folds through the day before yesterday; a watermark already at yesterday is simply a day early,
  // which the old boards treat as "rollup not current" until the next day.
  await rollupFunction(6, 29, 'p_today - 2').execute(db);
  await rebuildWindows(db, 6, 29);
}
