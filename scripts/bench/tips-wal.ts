// Where a tip's WAL goes, next to pgbench tpcb-like's: runs both on one throwaway embedded PostgreSQL and breaks the
// WAL each wrote down by record type and by relation (pg_walinspect). Used to pick what issue 18's WAL diet removes.
//   npx tsx scripts/bench/tips-wal.ts [--mode uniform|hot] [--tips 4000] [--scale 32] [--checkpoint]
// --checkpoint: each workload's window starts right after a CHECKPOINT, so the first change to every page it touches
//   carries a full-page image (the cost right after each checkpoint); without it, the window has no checkpoint.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { sql, type Kysely } from 'kysely';
import { parseConfig } from '../../src/config';
import { createDb, createPool, withDatabase } from '../../src/db/database';
import { startEmbeddedPostgres, freePort } from '../../src/db/embedded-postgres';
import { migrateToLatest } from '../../src/db/migrator';
import type { DB } from '../../src/db/schema';
import { createLogger } from '../../src/logger';
import { LedgerService } from '../../src/modules/ledger/ledger.service';
import { printBreakdown, snowflake, walBreakdown, runCommand } from './tips-lib';

const { values } = parseArgs({
  options: {
    mode: { type: 'string', default: 'uniform' },
    tips: { type: 'string', default: '4000' },
    scale: { type: 'string', default: '32' },
    checkpoint: { type: 'boolean', default: false },
    pgbench: { type: 'string', default: '/usr/bin/pgbench' },
  },
});
const say = (line: string) => process.stdout.write(`${line}\n`);
const mode = values.mode === 'hot' ? 'hot' : 'uniform';
const count = Number(values.tips);
const CLIENTS = 8;
const dataDir = await mkdtemp(path.join(tmpdir(), 'walprobe-'));
const port = await freePort();
const pg = await startEmbeddedPostgres({ dataDir, port, log: createLogger('warn', 'x'), flags: [] });
const pgEnv = { ...process.env, PGPASSWORD: 'postgres', PGHOST: '127.0.0.1', PGPORT: String(port), PGUSER: 'postgres' };
const admin = createDb(createPool(pg.url, 1));
try {
  await sql`CREATE DATABASE tips`.execute(admin);
  await sql`CREATE DATABASE pgbench`.execute(admin);
  const db = createDb(createPool(withDatabase(pg.url, 'tips'), CLIENTS));
  const bench = createDb(createPool(withDatabase(pg.url, 'pgbench'), 1));
  try {
    await run(values.pgbench!, ['-i', '-q', '-s', values.scale!, 'pgbench']);
    await sql`CREATE EXTENSION pg_walinspect`.execute(bench);
    await migrateToLatest(db);
    await sql`CREATE EXTENSION pg_walinspect`.execute(db);
    await sql`INSERT INTO users (discord_id, username) SELECT (400000000000000000 + g)::text, 'b' || g FROM generate_series(1, 1000) g`.execute(db);
    await sql`INSERT INTO balances (user_id, currency, amount) SELECT id, 'SOL', 1000000000000000000 FROM users`.execute(db);
    await sql`VACUUM ANALYZE`.execute(db);
    const users = (await db.selectFrom('users').select(['discord_id', 'username']).orderBy('id').execute()).map((u) => ({ discordId: u.discord_id, username: u.username }));
    const ledger = new LedgerService(db, parseConfig({}));
    const go = async (n: number) => {
      let done = 0;
      await Promise.all(
        Array.from({ length: CLIENTS }, async (_, w) => {
          for (let i = 0; i < n / CLIENTS; i++) {
            let s = users[Math.floor(Math.random() * users.length)]!;
            const r = mode === 'hot' ? users[0]! : users[Math.floor(Math.random() * users.length)]!;
            while (s === r) s = users[Math.floor(Math.random() * users.length)]!;
            await ledger.tip({ interactionId: snowflake(w), sender: s, receivers: [r], amount: 1000n, currency: 'SOL' });
            done++;
          }
        }),
      );
      return done;
    };
    // Warm-up: the aggregate rows and index pages exist, as in a running system.
    await go(2000);
    await ledger.foldCredits();
    const tipsWal = await measure(db, async () => {
      const n = await go(count);
      await ledger.foldCredits();
      return n;
    });
    await run(values.pgbench!, ['-c', String(CLIENTS), '-j', '2', '-t', '250', '-b', 'tpcb-like', 'pgbench']); // warm-up
    const pgbenchWal = await measure(bench, async () => {
      await run(values.pgbench!, ['-c', String(CLIENTS), '-j', '2', '-t', String(Math.round(count / CLIENTS)), '-b', 'tpcb-like', 'pgbench']);
      return Math.round(count / CLIENTS) * CLIENTS;
    });
    const flags = [values.checkpoint ? 'after a CHECKPOINT' : 'no checkpoint in the window'];
    say(`(${flags.filter(Boolean).join(', ')}; ${CLIENTS} clients, pgbench scale ${values.scale})`);
    printBreakdown(say, `tips (${mode}, LedgerService)`, tipsWal);
    printBreakdown(say, 'pgbench tpcb-like', pgbenchWal);
    say(`WAL per tip / pgbench's per transaction: ${(tipsWal.bytesPerTx / pgbenchWal.bytesPerTx).toFixed(2)}×`);
  } finally {
    await db.destroy();
    await bench.destroy();
  }
} finally {
  await admin.destroy();
  await pg.stop();
  await rm(dataDir, { recursive: true, force: true });
}

async function measure(db: Kysely<DB>, work: () => Promise<number>) {
  if (values.checkpoint) await sql`CHECKPOINT`.execute(db);
  const lsn = async () => (await sql<{ l: string }>`SELECT pg_current_wal_insert_lsn()::text AS l`.execute(db)).rows[0]!.l;
  const start = await lsn();
  const txns = await work();
  return walBreakdown(db, start, await lsn(), txns);
}

function run(cmd: string, args: string[]): Promise<string> {
  return runCommand(cmd, args, pgEnv);
}
