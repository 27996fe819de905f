// Read latency at scale, on the data bench:ledger-data left in --dir (stock server settings):
//   npx tsx scripts/bench/ledger-queries.ts [--dir .data/bench-ledger] [--iterations 200] [--brin]   (≤ 15 s per query)
// Prints p50/p99 of /balance, /history page 1 and page 500 (keyset cursor, as the Next button carries it; plus the
// bare-number jump), /leaderboard week and all, in the busiest guild and bot-wide, through LedgerService. Target:
// p99 < 20 ms. --brin also times a journal time-range scan with and without a BRIN index on created_at.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import { parseConfig } from '../../src/config';
import { createDb, createPool } from '../../src/db/database';
import { startEmbeddedPostgres, freePort } from '../../src/db/embedded-postgres';
import { createLogger } from '../../src/logger';
import { historyCount, historyIdAt } from '../../src/modules/ledger/ledger.repository';
import { HISTORY_PAGE_SIZE, LedgerService, type DiscordUserRef } from '../../src/modules/ledger/ledger.service';

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: '.data/bench-ledger' },
    iterations: { type: 'string', default: '200' },
    brin: { type: 'boolean', default: false },
  },
});
const iterations = Number(values.iterations);
const say = (line: string) => process.stdout.write(`${line}\n`);

const pg = await startEmbeddedPostgres({ dataDir: path.resolve(values.dir!), port: await freePort(), log: createLogger('warn', 'bench-pg') });
const db = createDb(createPool(pg.url, 4));
let pass = true;
try {
  const { rows: counts } = await sql<{ journal: bigint; users: bigint }>`
    SELECT (SELECT reltuples::bigint FROM pg_class WHERE relname = 'journal') AS journal,
           (SELECT reltuples::bigint FROM pg_class WHERE relname = 'users') AS users`.execute(db);
  const userCount = Number(counts[0]!.users);
  const ledger = new LedgerService(db, parseConfig({}));
  const ref = (n: number): DiscordUserRef => ({ discordId: String(300000000000000000n + BigInt(n)), username: `user${n}` });
  const randomUser = () => ref(3 + Math.floor(Math.random() * (userCount - 2)));
  const streamer = ref(1);
  const bigGuild = '900000000000000001';
  const streamerId = (await db.selectFrom('users').select('id').where('discord_id', '=', streamer.discordId).executeTakeFirstOrThrow()).id;
  // Page 500, or the deepest page a small data set has.
  const deep = Math.min(500, Math.ceil((await historyCount(db, streamerId, 5000)) / HISTORY_PAGE_SIZE));
  const cursor = await historyIdAt(db, streamerId, (deep - 1) * HISTORY_PAGE_SIZE - 1);
  if (cursor === undefined) throw new Error('the streamer has no history: run bench:ledger-data first');

  say(`journal ≈ ${counts[0]!.journal} rows, users ≈ ${userCount}; at most ${iterations} iterations or 15 s each (after 5 warm-up)`);
  say('query                                         p50 ms   p99 ms   max ms');
  const measure = async (label: string, fn: () => Promise<unknown>, target = 20) => {
    for (let i = 0; i < 5; i++) await fn();
    const times: number[] = [];
    // At most --iterations runs or 15 s, whichever ends first: a slow query still gets a figure without taking hours.
    const until = performance.now() + 15_000;
    for (let i = 0; i < iterations && performance.now() < until; i++) {
      const t0 = performance.now();
      await fn();
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    const q = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))]!;
    const ok = q(0.99) < target;
    pass &&= ok;
    say(`${label.padEnd(44)} ${q(0.5).toFixed(2).padStart(7)}  ${q(0.99).toFixed(2).padStart(7)}  ${times.at(-1)!.toFixed(2).padStart(7)}  n=${times.length} ${ok ? '' : 'MISS'}`);
  };

  await measure('/balance (random user)', () => ledger.balance(randomUser().discordId, 'SOL'));
  await measure('/history page 1 (random user)', () => ledger.history(randomUser(), 1));
  await measure('/history page 1 (streamer, 100k+ entries)', () => ledger.history(streamer, 1));
  await measure(`/history page ${deep} (streamer, Next cursor)`, () => ledger.history(streamer, deep, { before: cursor }));
  await measure(`/history page:${deep} (streamer, bare number)`, () => ledger.history(streamer, deep));
  await measure('/leaderboard week (busiest guild)', () => ledger.leaderboard('SOL', 'week', bigGuild));
  await measure('/leaderboard all (busiest guild)', () => ledger.leaderboard('SOL', 'all', bigGuild));
  await measure('/leaderboard week (bot-wide, DMs)', () => ledger.leaderboard('SOL', 'week', null));
  await measure('/leaderboard all (bot-wide, DMs)', () => ledger.leaderboard('SOL', 'all', null));

  if (values.brin) {
    // Journal time-range scans (support, audits): is a BRIN index on created_at worth having? Not a target query.
    const scan = () => sql`SELECT count(*), sum(amount) FROM journal WHERE created_at >= now() - interval '1 day'`.execute(db);
    await measure('journal last 24 h, no BRIN', scan, Infinity);
    const t0 = performance.now();
    await sql`CREATE INDEX bench_journal_created_brin ON journal USING brin (created_at)`.execute(db);
    const { rows } = await sql<{ size: string }>`SELECT pg_size_pretty(pg_relation_size('bench_journal_created_brin')) AS size`.execute(db);
    say(`BRIN (created_at) built in ${((performance.now() - t0) / 1000).toFixed(1)} s, ${rows[0]!.size}`);
    await measure('journal last 24 h, BRIN', scan, Infinity);
    await sql`DROP INDEX bench_journal_created_brin`.execute(db);
  }
  say(pass ? 'All p99 < 20 ms.' : 'Some p99 ≥ 20 ms (MISS).');
  process.exitCode = pass ? 0 : 1;
} finally {
  await db.destroy();
  await pg.stop();
}
