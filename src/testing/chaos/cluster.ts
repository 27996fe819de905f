import type { Emulators } from '../../sandbox/emulators';
import { botProcessEnv, startEmulatorsWithCommands } from '../bot-process';
import { spawnTsx, type Child } from '../child-process';
import type { ChaosPostgres } from './postgres';

/** One bot process serving one gateway shard; restarts replace `child` and keep the shard. */
export interface Replica {
  readonly index: number;
  child: Child;
  /** Resolves when this incarnation logged `ready` (rejects if it died first). */
  ready: Promise<void>;
  isReady: boolean;
  paused: boolean;
  incarnation: number;
}

export interface Cluster {
  emus: Emulators;
  replicas: Replica[];
  /** SIGKILL (no shutdown hooks run) and start a fresh process for the same shard. */
  killAndRestart(r: Replica): Promise<void>;
  pause(r: Replica): void;
  resume(r: Replica): void;
  /** Every replica up and answering (used before the workload starts and before the checker reads). */
  allReady(timeoutMs: number): Promise<void>;
  /** Lines replicas wrote that say they crashed on their own (fatal, uncaught): each one is a finding. */
  crashes(): string[];
  /** Every log line of every incarnation of every replica, parsed, tagged with the replica. */
  logLines(): Array<{ replica: string; json: Record<string, unknown> }>;
  close(): Promise<void>;
}

/**
 * The Discord and Solana emulators (in this process, so the workload drives them directly) and `replicas` bot
 * processes started exactly as production starts them (`node --import tsx src/main.ts`, configuration by
 * environment only), one gateway shard each, all on the one database.
 */
export async function startCluster(pg: ChaosPostgres, opts: { replicas: number; env?: Record<string, string> }): Promise<Cluster> {
  const shards = opts.replicas;
  // One guild per shard at least: the first lands wherever its id says, the extras round-robin over the shards.
  const emus = await startEmulatorsWithCommands({ shards, extraGuilds: shards });
  const env = botProcessEnv(emus, pg.url, {
    SHARD_COUNT: String(shards),
    // Members withdraw several times a run; the cooldown is a product rule with its own tests.
    WITHDRAW_COOLDOWN_SECONDS: '0',
    // Deferrals a killed replica left are answered sooner than the production default, so the run settles quickly.
    REPLY_RECOVERY_SECONDS: '5',
    // Tickets a killed replica left without their thread are removed sooner than in production, for the same reason.
    TICKETS_SETUP_GRACE_SECONDS: '20',
    ...opts.env,
  });
  const crashLines: string[] = [];
  const incarnations: Array<{ replica: string; child: Child }> = [];

  const spawnReplica = (index: number, incarnation: number): Pick<Replica, 'child' | 'ready'> => {
    const child = spawnTsx('src/main.ts', [], { ...env, SHARD_IDS: String(index) });
    incarnations.push({ replica: `${index}#${incarnation}`, child });
    const ready = child.waitForLine((l) => l.json?.msg === 'ready', 120_000).then(() => undefined);
    // A replica dying of its own accord (not by our SIGKILL) is what the suite exists to catch.
    child.process.once('exit', (code, signal) => {
      if (signal === 'SIGKILL' || signal === 'SIGTERM' || code === 0) return;
      const fatal = child.lines.filter((l) => l.json?.level === 60 || l.json?.level === 50).slice(-3).map((l) => l.raw);
      crashLines.push(`replica ${index}#${incarnation} exited by itself (${code ?? signal}): ${fatal.join(' | ')}`);
    });
    return { child, ready };
  };

  const replicas: Replica[] = [];
  for (let i = 0; i < shards; i++) {
    const r: Replica = { index: i, ...spawnReplica(i, 0), isReady: false, paused: false, incarnation: 0 };
    void r.ready.then(() => (r.isReady = true), () => undefined);
    replicas.push(r);
  }

  const cluster: Cluster = {
    emus,
    replicas,
    async killAndRestart(r) {
      if (r.paused) cluster.resume(r);
      r.isReady = false;
      await r.child.stop('SIGKILL');
      r.incarnation++;
      const next = spawnReplica(r.index, r.incarnation);
      r.child = next.child;
      r.ready = next.ready;
      const incarnation = r.incarnation;
      void next.ready.then(() => {
        if (r.incarnation === incarnation) r.isReady = true;
      }, () => undefined);
    },
    pause(r) {
      r.child.process.kill('SIGSTOP');
      r.paused = true;
    },
    resume(r) {
      r.child.process.kill('SIGCONT');
      r.paused = false;
    },
    async allReady(timeoutMs) {
      for (const r of replicas) if (r.paused) cluster.resume(r);
      const deadline = Date.now() + timeoutMs;
      for (const r of replicas) {
        await Promise.race([
          r.ready,
          new Promise((_, reject) => setTimeout(() => reject(new Error(`replica ${r.index} not ready after ${timeoutMs} ms`)), Math.max(0, deadline - Date.now()))),
        ]);
      }
    },
    crashes: () => [...crashLines],
    logLines: () => incarnations.flatMap(({ replica, child }) => child.lines.flatMap((l) => (l.json ? [{ replica, json: l.json }] : []))),
    async close() {
      for (const r of replicas) if (r.paused) cluster.resume(r);
      await Promise.allSettled(replicas.map((r) => r.child.stop('SIGKILL')));
      await emus.close();
    },
  };
  return cluster;
}
