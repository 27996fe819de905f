// Where a tip's WAL goes: runs tips on a throwaway embedded PostgreSQL and breaks the WAL they wrote down by record
// type and by relation (pg_walinspect). Used to pick what issue 18's WAL diet removed.
//   npx tsx scripts/bench/tips-wal.ts [uniform|hot]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { parseConfig } from '../../src/config';
import { createDb, createPool } from '../../src/db/database';
import { startEmbeddedPostgres, freePort } from '../../src/db/embedded-postgres';
import { migrateToLatest } from '../../src/db/migrator';
import { createLogger } from '../../src/logger';
import { LedgerService } from '../../src/modules/ledger/ledger.service';

const say = (line: string) => process.stdout.write(`${line}\n`);
const mode = process.argv[2] === 'hot' ? 'hot' : 'uniform';
const dataDir = await mkdtemp(path.join(tmpdir(), 'walprobe-'));
const pg = await startEmbeddedPostgres({ dataDir, port: await freePort(), log: createLogger('warn', 'x'), flags: [] });
const db = createDb(createPool(pg.url, 8));
try {
  await migrateToLatest(db);
  await sql`CREATE EXTENSION pg_walinspect`.execute(db);
  await sql`INSERT INTO users (discord_id, username) SELECT (400000000000000000 + g)::text, 'b' || g FROM generate_series(1, 1000) g`.execute(db);
  await sql`INSERT INTO balances (user_id, currency, amount) SELECT id, 'SOL', 1000000000000000000 FROM users`.execute(db);
  await sql`VACUUM ANALYZE`.execute(db);
  const users = (await db.selectFrom('users').select(['discord_id', 'username']).orderBy('id').execute()).map((u) => ({ discordId: u.discord_id, username: u.username }));
  const ledger = new LedgerService(db, parseConfig({}));
  let n = 0;
  const go = async (count: number) => {
    await Promise.all(Array.from({ length: 8 }, async (_, w) => {
      for (let i = 0; i < count / 8; i++) {
        const s = users[Math.floor(Math.random() * users.length)]!;
        let r = mode === 'hot' ? users[0]! : users[Math.floor(Math.random() * users.length)]!;
        while (r === s) r = users[Math.floor(Math.random() * users.length)]!;
        if (s === users[0]) continue;
        await ledger.tip({ interactionId: `p-${w}-${n++}`, sender: s, receivers: [r], amount: 1000n, currency: 'SOL' });
      }
    }));
  };
  // Warm-up: the aggregate rows and index pages exist, as in a running system.
  await go(2000);
  await ledger.foldCredits();
  await sql`CHECKPOINT`.execute(db);
  const { rows: [start] } = await sql<{ l: string }>`select pg_current_wal_insert_lsn()::text l`.execute(db);
  const before = n;
  await go(4000);
  await ledger.foldCredits();
  const tips = n - before;
  const { rows: [end] } = await sql<{ l: string }>`select pg_current_wal_insert_lsn()::text l`.execute(db);
  const { rows } = await sql<Record<string, unknown>>`
    select "resource_manager/record_type" t, count, record_size, fpi_size, combined_size from pg_get_wal_stats(${start!.l}::pg_lsn, ${end!.l}::pg_lsn, true) where count > 0 order by combined_size desc limit 20`.execute(db);
  say(`tips ${tips}, WAL ${(Number((await sql<{ d: string }>`select pg_wal_lsn_diff(${end!.l}::pg_lsn, ${start!.l}::pg_lsn)::text d`.execute(db)).rows[0]!.d) / tips).toFixed(0)} B/tip`);
  const perTip = (x: unknown, digits = 0) => (Number(x) / tips).toFixed(digits).padStart(6);
  say('record type                   records/tip  bytes/tip  (of which full-page images)');
  for (const r of rows) say(`${String(r.t).padEnd(30)} ${perTip(r.count, 2)}     ${perTip(r.combined_size)}     (${perTip(r.fpi_size)})`);
  const { rows: rels } = await sql<Record<string, unknown>>`
    select coalesce(c.relname, b.relfilenode::text) rel, count(*) n, sum(r.record_length) bytes, sum(r.fpi_length) fpi
    from pg_get_wal_records_info(${start!.l}::pg_lsn, ${end!.l}::pg_lsn) r
    cross join lateral pg_get_wal_block_info(r.start_lsn, r.end_lsn) b
    left join pg_class c on c.relfilenode = b.relfilenode
    where b.start_lsn = r.start_lsn
    group by 1 order by 3 desc limit 15`.execute(db);
  say('relation                          records/tip  bytes/tip');
  for (const r of rels) say(`${String(r.rel).padEnd(36)} ${perTip(r.n, 2)}     ${perTip(r.bytes)}`);
} finally {
  await db.destroy();
  await pg.stop();
  await rm(dataDir, { recursive: true, force: true });
}
