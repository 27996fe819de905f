// Shared by the tip benchmarks (tips.ts, tips-wal.ts): interaction ids shaped like Discord's, the pgbench script that
// drives ledger_tip() from pgbench's own C client, and WAL attribution.
import { spawn } from 'node:child_process';
import { sql, type Kysely } from 'kysely';
import type { DB } from '../../src/db/schema';

const DISCORD_EPOCH = 1_420_070_400_000n;
let lastMs = 0n;
let seq = 0n;

/**
 * A Discord-like snowflake (ms since 2015 << 22 | worker << 12 | sequence). Real interaction ids are time-ordered and
 * 19 digits long: the idempotency key's length and its B-tree insert pattern (append at the right edge, not random
 * splits) are what the product sees, so the bench uses the same shape.
 */
export function snowflake(worker: number): string {
  const ms = BigInt(Date.now()) - DISCORD_EPOCH;
  if (ms !== lastMs) {
    lastMs = ms;
    seq = 0n;
  }
  seq = (seq + 1n) & 0xfffn;
  return ((ms << 22n) | (BigInt(worker & 0x3ff) << 12n) | seq).toString();
}

/**
 * The pgbench script calling ledger_tip() like LedgerService.tip does (one receiver, 1000 lamports, no note/guild).
 * Run it with `-D base=<a snowflake> -D n=0`: a client's variables live across its transactions, so base + n·256 +
 * client id is a unique, roughly time-ordered 19-digit interaction id. `hot` sends everything to user 1.
 */
export function pgbenchTipScript(users: number, hot: boolean): string {
  return [
    '\\set n :n + 1',
    '\\set id :base + :n * 256 + :client_id',
    ...(hot
      ? [`\\set s random(2, ${users})`, '\\set r 1']
      : [`\\set s random(1, ${users})`, `\\set r random(1, ${users - 1})`, '\\set r case when :r >= :s then :r + 1 else :r end']),
    `SELECT * FROM ledger_tip(:id::text, 'tip', 'SOL', 1000::numeric, NULL, (400000000000000000 + :s)::text, 'bench' || :s, ` +
      `ARRAY[(400000000000000000 + :r)::text], ARRAY['bench' || :r], NULL::text);`,
    '',
  ].join('\n');
}

export interface WalBreakdown {
  bytesPerTx: number;
  fpiPerTx: number;
  byType: Array<{ type: string; records: number; bytes: number; fpi: number }>;
  byRelation: Array<{ relation: string; records: number; bytes: number; fpi: number }>;
}

/**
 * WAL written in [start, end) by record type and by relation, per transaction (`txns`). Needs pg_walinspect in the
 * database `db` is connected to; relations of other databases show as their relfilenode. A record is counted once,
 * for its first block (a B-tree split or a non-HOT update touches several blocks of the same relation).
 */
export async function walBreakdown(db: Kysely<DB>, start: string, end: string, txns: number): Promise<WalBreakdown> {
  const per = (x: unknown) => Number(x) / txns;
  const total = await sql<{ b: string }>`SELECT pg_wal_lsn_diff(${end}::pg_lsn, ${start}::pg_lsn)::text AS b`.execute(db);
  const types = await sql<{ t: string; n: string; b: string; f: string }>`
    SELECT "resource_manager/record_type" AS t, count::text AS n, combined_size::text AS b, fpi_size::text AS f
    FROM pg_get_wal_stats(${start}::pg_lsn, ${end}::pg_lsn, true) WHERE count > 0 ORDER BY combined_size DESC`.execute(db);
  const rels = await sql<{ rel: string; n: string; b: string; f: string }>`
    SELECT coalesce(c.relname, b.relfilenode::text) AS rel, count(*)::text AS n, sum(b.record_length)::text AS b, sum(b.block_fpi_length)::text AS f
    FROM pg_get_wal_block_info(${start}::pg_lsn, ${end}::pg_lsn) b
    LEFT JOIN pg_class c ON c.relfilenode = b.relfilenode AND c.relfilenode <> 0
    WHERE b.block_id = 0
    GROUP BY 1 ORDER BY sum(b.record_length) DESC`.execute(db);
  const fpi = types.rows.reduce((s, r) => s + Number(r.f), 0);
  const byRelation = rels.rows.map((r) => ({ relation: r.rel, records: per(r.n), bytes: per(r.b), fpi: per(r.f) }));
  const inRelations = rels.rows.reduce((s, r) => s + Number(r.b), 0);
  // Commit records and the like name no block.
  byRelation.push({ relation: '(no block: commits, …)', records: NaN, bytes: per(Number(total.rows[0]!.b) - inRelations), fpi: 0 });
  return {
    bytesPerTx: per(total.rows[0]!.b),
    fpiPerTx: per(fpi),
    byType: types.rows.map((r) => ({ type: r.t, records: per(r.n), bytes: per(r.b), fpi: per(r.f) })),
    byRelation,
  };
}

export function printBreakdown(say: (line: string) => void, title: string, w: WalBreakdown, limit = 12): void {
  const f = (x: number, d = 0) => (Number.isNaN(x) ? '' : x.toFixed(d)).padStart(7);
  say(`${title}: WAL ${w.bytesPerTx.toFixed(0)} B/tx, of which full-page images ${w.fpiPerTx.toFixed(0)} B (${((w.fpiPerTx / w.bytesPerTx) * 100).toFixed(0)}%)`);
  say('  record type                      records/tx  bytes/tx  (FPI)');
  for (const r of w.byType.slice(0, limit)) say(`  ${r.type.padEnd(32)} ${f(r.records, 2)}   ${f(r.bytes)}  (${f(r.fpi)})`);
  say('  relation                         records/tx  bytes/tx  (FPI)');
  for (const r of w.byRelation.slice(0, limit)) say(`  ${r.relation.padEnd(32)} ${f(r.records, 2)}   ${f(r.bytes)}  (${f(r.fpi)})`);
}

/** Runs a command (pgbench) to completion; resolves with its stdout and stderr, rejects on a non-zero exit. */
export function runCommand(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}:\n${out}`))));
  });
}
