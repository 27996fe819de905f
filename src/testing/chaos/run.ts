import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { checkInvariants, formatTable, settle, type Check } from './checker';
import { startCluster } from './cluster';
import { runNemesis, type Fault } from './nemesis';
import type { ChaosPostgres } from './postgres';
import { seededRng } from './rng';
import { createMembers, outcomeOf, runWorkload, type Op } from './workload';

export interface ChaosOptions {
  pg: ChaosPostgres;
  seed: number;
  durationMs: number;
  /** Bot processes, one gateway shard each. */
  replicas?: number;
  membersPerGuild?: number;
  /** Mean time between two faults. */
  faultIntervalMs?: number;
  /** How long interrupted work may take to finish once the faults stop. */
  settleMs?: number;
  /** Replicas' LOG_LEVEL (default debug: the checker reads each job run from the replicas' `job ran` lines). */
  logLevel?: string;
  /** On a violation, every replica log line goes to this file (JSON lines), for the post-mortem. */
  logFile?: string;
  /** Progress lines (the CLI prints them; the test keeps them for a failure message). */
  log?: (line: string) => void;
}

export interface ChaosReport {
  seed: number;
  ok: boolean;
  checks: Check[];
  ops: number;
  opsPerSecond: number;
  faults: Fault[];
  /** The table and the numbers, as printed. */
  summary: string;
}

/**
 * One chaos run: a cluster of sharded replicas on one database, member clients driving interactions, a nemesis
 * injecting faults for `durationMs`; then the faults stop, interrupted work gets `settleMs` to finish, and the checker
 * reads the database, the chain and what every member was shown.
 */
export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  const log = o.log ?? (() => undefined);
  const replicas = o.replicas ?? 3;
  // Separate streams: the fault schedule does not shift when the workload makes one more choice, and vice versa.
  const workloadRng = seededRng(o.seed);
  const nemesisRng = seededRng(o.seed ^ 0x9e3779b9);
  log(`chaos: seed ${o.seed}, ${replicas} replicas, ${Math.round(o.durationMs / 1000)} s of faults`);
  const t0 = Date.now();
  const since = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
  const cluster = await startCluster(o.pg, { replicas, env: { LOG_LEVEL: o.logLevel ?? 'debug' } });
  try {
    const members = await createMembers(cluster, o.pg, o.membersPerGuild ?? 3);
    await cluster.allReady(120_000);
    log(`chaos: [${since()}] ${replicas} replicas ready, ${members.length} members in ${cluster.emus.discord.guilds.size} guilds; faults start`);

    const ops: Op[] = [];
    const faults: Fault[] = [];
    const stop = new AbortController();
    const startedAt = Date.now();
    const timer = setTimeout(() => stop.abort(), o.durationMs);
    await Promise.all([
      runWorkload(cluster, members, workloadRng, stop.signal, ops),
      runNemesis(cluster, o.pg, nemesisRng, { intervalMs: o.faultIntervalMs ?? 3_000, startedAt, stop: stop.signal }, faults),
    ]);
    clearTimeout(timer);
    const elapsed = (Date.now() - startedAt) / 1000;
    log(`chaos: [${since()}] faults stop after ${elapsed.toFixed(1)} s (${ops.length} interactions, ${faults.length} faults); settling`);

    // Whatever was interrupted must finish on the replicas that are up (jobs and the reply outbox run on any of them);
    // a replica still booting after its last kill is not waited for.
    for (const r of cluster.replicas) if (r.paused) cluster.resume(r);
    await settle(o.pg.db, ops, o.settleMs ?? 60_000);
    const checks = await checkInvariants(o.pg.db, cluster, members, ops);
    log(`chaos: [${since()}] settled and checked`);

    const byKind = new Map<string, number>();
    for (const f of faults) byKind.set(f.kind, (byKind.get(f.kind) ?? 0) + 1);
    const opKinds = new Map<string, number>();
    for (const op of ops) opKinds.set(op.kind, (opKinds.get(op.kind) ?? 0) + 1);
    const answered = ops.filter((x) => ['ok', 'asked', 'error', 'interrupted', 'updated'].includes(outcomeOf(x))).length;
    const ok = checks.every((c) => c.ok);
    if (!ok) {
      // What the replicas logged at warn and above: the first place to look for why an invariant broke.
      const warnings = cluster.logLines().filter((l) => Number(l.json.level) >= 40);
      for (const w of warnings.slice(-40)) log(`replica ${w.replica}: ${JSON.stringify(w.json).slice(0, 600)}`);
      if (o.logFile) {
        mkdirSync(path.dirname(o.logFile), { recursive: true });
        writeFileSync(o.logFile, cluster.logLines().map((l) => JSON.stringify({ replica: l.replica, ...l.json })).join('\n'));
        log(`chaos: replica logs in ${o.logFile}`);
      }
    }
    const summary = [
      `seed ${o.seed} · ${elapsed.toFixed(1)} s of faults · ${ops.length} interactions (${(ops.length / elapsed).toFixed(1)}/s; answered ${answered}) · ${[...opKinds].map(([k, n]) => `${k} ${n}`).join(', ')}`,
      `faults injected: ${faults.length} — ${[...byKind].map(([k, n]) => `${k} ${n}`).join(', ') || 'none'}`,
      `  ${faults.map((f) => `${(f.atMs / 1000).toFixed(1)}s ${f.kind} ${f.detail}`).join(' · ')}`,
      formatTable(checks),
      ok ? 'chaos: all invariants hold' : `chaos: INVARIANT VIOLATED — replay with --seed ${o.seed}`,
    ].join('\n');
    return { seed: o.seed, ok, checks, ops: ops.length, opsPerSecond: ops.length / elapsed, faults, summary };
  } finally {
    await cluster.close();
  }
}
