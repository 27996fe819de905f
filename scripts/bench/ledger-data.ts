// Fills a throwaway embedded PostgreSQL (kept in --dir for bench:ledger-queries) with a large ledger, set-based:
//   npx tsx scripts/bench/ledger-data.ts [--rows 10000000] [--users 1000000] [--guilds 1000] [--days 365] [--dir .data/bench-ledger]
// Shape: tips and rain only (plus one funding credit per user), spread evenly over --days and in id order like a real
// append-only journal; sender and receiver uniform, except that one "streamer" (user 1) receives 1% of all tips and one
// "whale" (user 2) sends 1%, and guild 1 carries a tenth of the traffic. Balances are derived from the journal, so the
// data is exactly what the tip path would have written; the leaderboard aggregates (tip_totals_daily, the rollup) are
// folded from it by ledger_fold_tips(), as the ledger-rollup job would have. Indexes are built after the load.
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { sql, type Kysely } from 'kysely';
import { createDb, createPool } from '../../src/db/database';
import type { DB } from '../../src/db/schema';
import { startEmbeddedPostgres, freePort } from '../../src/db/embedded-postgres';
import { migrateToLatest } from '../../src/db/migrator';
import { createLogger } from '../../src/logger';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '10000000' },
    users: { type: 'string', default: '1000000' },
    guilds: { type: 'string', default: '1000' },
    days: { type: 'string', default: '365' },
    dir: { type: 'string', default: '.data/bench-ledger' },
    chunk: { type: 'string', default: '1000000' },
  },
});
const rows = Number(values.rows);
const userCount = Number(values.users);
const guilds = Number(values.guilds);
const days = Number(values.days);
const chunk = Number(values.chunk);
const say = (line: string) => process.stdout.write(`${line}\n`);
const dataDir = path.resolve(values.dir!);

await rm(dataDir, { recursive: true, force: true });
const log = createLogger('warn', 'bench-pg');
// Bulk-load settings only: the queries bench restarts the server with stock settings.
const pg = await startEmbeddedPostgres({
  dataDir,
  port: await freePort(),
  log,
  flags: ['-c', 'synchronous_commit=off', '-c', 'max_wal_size=4GB', '-c', 'maintenance_work_mem=256MB', '-c', 'work_mem=64MB'],
});
const db = createDb(createPool(pg.url, 1));
const started = performance.now();
const step = async (label: string, q: Parameters<typeof sql.raw>[0] | ReturnType<typeof sql>) => {
  const t0 = performance.now();
  await (typeof q === 'string' ? sql.raw(q) : q).execute(db);
  say(`${label.padEnd(48)} ${((performance.now() - t0) / 1000).toFixed(1)} s`);
};
try {
  await migrateToLatest(db);
  await step(`users × ${userCount}`, sql`
    INSERT INTO users (discord_id, username) SELECT (300000000000000000 + g)::text, 'user' || g FROM generate_series(1, ${userCount}) g`);
  await step('drop journal indexes for the load', 'DROP INDEX journal_from_user_idx, journal_to_user_idx; ALTER TABLE journal DROP CONSTRAINT journal_idempotency_key_key');
  await step('funding credits', sql`
    INSERT INTO journal (type, to_user_id, amount, currency, idempotency_key, ref, created_at)
    SELECT 'admin_credit', id, 1000000000000, 'SOL', 'admin_credit:bench-' || id, 'bench', now() - make_interval(days => ${days + 1})
    FROM users ORDER BY id`);
  for (let from = 0; from < rows; from += chunk) {
    const n = Math.min(chunk, rows - from);
    await step(`journal tips ${from + 1}…${from + n}`, sql`
      INSERT INTO journal (type, from_user_id, to_user_id, amount, currency, idempotency_key, created_at, guild_id)
      SELECT CASE WHEN g % 20 = 0 THEN 'rain' ELSE 'tip' END, s, CASE WHEN r = s THEN r % ${userCount} + 1 ELSE r END,
             1000 + (g % 97) * 1000, 'SOL', CASE WHEN g % 20 = 0 THEN 'rain' ELSE 'tip' END || ':bench-' || g || ':0',
             now() - make_interval(secs => (${rows}::bigint - g) * (${days} * 86400.0 / ${rows})),
             CASE WHEN g % 50 = 0 THEN NULL WHEN g % 10 = 0 THEN '900000000000000001' ELSE (900000000000000000 + 2 + (g * 7919) % ${guilds - 1})::text END
      FROM (
        SELECT g,
               CASE WHEN g % 100 = 1 THEN 2 ELSE 1 + (hashint8(g) & 2147483647) % ${userCount} END AS s,
               CASE WHEN g % 100 = 2 THEN 1 ELSE 1 + (hashint8(-g) & 2147483647) % ${userCount} END AS r
        FROM generate_series(${from + 1}::bigint, ${from + n}::bigint) g
      ) x`);
  }
  await step('journal_idempotency_key_key', 'ALTER TABLE journal ADD CONSTRAINT journal_idempotency_key_key UNIQUE (idempotency_key)');
  await step('journal_from_user_idx', 'CREATE INDEX journal_from_user_idx ON journal (from_user_id, id) WHERE from_user_id IS NOT NULL');
  await step('journal_to_user_idx', 'CREATE INDEX journal_to_user_idx ON journal (to_user_id, id) WHERE to_user_id IS NOT NULL');
  await step('balances from the journal', `
    INSERT INTO balances (user_id, currency, amount)
    SELECT user_id, 'SOL', sum(amount) FROM (
      SELECT to_user_id AS user_id, amount FROM journal WHERE to_user_id IS NOT NULL
      UNION ALL SELECT from_user_id, -amount FROM journal WHERE from_user_id IS NOT NULL
    ) m GROUP BY user_id ORDER BY user_id`);
  // What the ledger-rollup job would have folded by now: every tip leg, through ledger_fold_tips() itself, from the
  // oldest leg on (one transaction; the job does the same in 5-minute spans), then rolled.
  await step('leaderboard aggregates (ledger_fold_tips)', `
    UPDATE tip_totals_rollup_state SET folded_until = j.t, window_day = (j.t AT TIME ZONE 'UTC')::date
    FROM (SELECT min(created_at) AS t FROM journal) j;
    SELECT * FROM ledger_fold_tips(p_max_span => '100 years', p_margin => '0');
    -- …and rolled into tip_totals_daily and the rollup (the open table would otherwise hold the whole history).
    SELECT * FROM ledger_fold_tips(p_margin => '0', p_max_open => 0)`);
  await step('VACUUM ANALYZE', 'VACUUM ANALYZE');
  await report(db);
  say(`done in ${((performance.now() - started) / 1000).toFixed(0)} s; data in ${dataDir}`);
} finally {
  await db.destroy();
  await pg.stop();
}

async function report(db: Kysely<DB>) {
  const { rows: sizes } = await sql<{ rel: string; rows: bigint; size: string }>`
    SELECT c.relname AS rel, c.reltuples::bigint AS rows, pg_size_pretty(pg_total_relation_size(c.oid)) AS size
    FROM pg_class c WHERE c.relname IN ('journal', 'users', 'balances', 'tip_totals_daily', 'tip_totals_open', 'tip_totals_rollup') ORDER BY 1`.execute(db);
  for (const s of sizes) say(`${s.rel.padEnd(20)} ${String(s.rows).padStart(10)} rows  ${s.size}`);
}
