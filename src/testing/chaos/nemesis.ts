import type { Cluster, Replica } from './cluster';
import type { ChaosPostgres } from './postgres';
import type { Rng } from './rng';

export type FaultKind = 'kill-9' | 'pause' | 'pg-terminate' | 'pg-restart' | 'gateway-drop' | 'rpc-fail';

export interface Fault {
  atMs: number;
  kind: FaultKind;
  detail: string;
}

/**
 * One round of faults, dealt in a seeded order; the next round is shuffled again. Rounds (rather than independent
 * draws) make even a short run meet every kind, and kills dominate as in the crash harness.
 */
const ROUND: FaultKind[] = ['kill-9', 'kill-9', 'kill-9', 'kill-9', 'kill-9', 'pause', 'pg-terminate', 'pg-restart', 'gateway-drop', 'rpc-fail'];

const RPC_METHODS = ['sendTransaction', 'getLatestBlockhash', 'getSignatureStatuses', 'getSignaturesForAddress'];

/**
 * Injects one fault every `intervalMs` (± half, from the seed) until `stop` is aborted: SIGKILL a replica and start
 * it again, SIGSTOP one for up to 2 s (a GC pause or a starved VM: its sockets stay open, its events queue up),
 * terminate every database session, restart PostgreSQL with an immediate shutdown (when the server is ours), drop the
 * gateway sockets (the bots RESUME), or fail the next call of a Solana RPC method with HTTP 503.
 */
export async function runNemesis(
  cluster: Cluster,
  pg: ChaosPostgres,
  rng: Rng,
  opts: { intervalMs: number; startedAt: number; stop: AbortSignal },
  faults: Fault[],
): Promise<void> {
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(t);
        opts.stop.removeEventListener('abort', done);
        resolve();
      };
      const t = setTimeout(done, ms);
      opts.stop.addEventListener('abort', done, { once: true });
    });
  const round = ROUND.filter((k) => k !== 'pg-restart' || pg.restart);
  let deck: FaultKind[] = [];
  const choose = (): FaultKind => {
    if (deck.length === 0) {
      deck = [...round];
      for (let i = deck.length - 1; i > 0; i--) {
        const j = Math.floor(rng() * (i + 1));
        [deck[i], deck[j]] = [deck[j]!, deck[i]!];
      }
    }
    return deck.pop()!;
  };
  const pick = (rs: Replica[]) => rs[Math.floor(rng() * rs.length)];
  const record = (kind: FaultKind, detail: string) => faults.push({ atMs: Date.now() - opts.startedAt, kind, detail });

  while (!opts.stop.aborted) {
    await sleep(opts.intervalMs * (0.5 + rng()));
    if (opts.stop.aborted) break;
    const kind = choose();
    const up = cluster.replicas.filter((r) => r.isReady && !r.paused);
    try {
      switch (kind) {
        case 'kill-9': {
          // A replica still starting after its last kill is fair game when none is up: crashes during boot happen too.
          const r = pick(up) ?? pick(cluster.replicas.filter((x) => !x.paused));
          if (!r) break;
          await cluster.killAndRestart(r);
          record(kind, `replica ${r.index} (restarted as #${r.incarnation})`);
          break;
        }
        case 'pause': {
          const r = pick(up);
          if (!r) break;
          const ms = Math.round(300 + rng() * 1_700);
          cluster.pause(r);
          record(kind, `replica ${r.index} for ${ms} ms`);
          await sleep(ms);
          if (r.paused) cluster.resume(r);
          break;
        }
        case 'pg-terminate':
          record(kind, `${await pg.terminateBackends()} sessions`);
          break;
        case 'pg-restart': {
          const t0 = Date.now();
          await pg.restart!();
          record(kind, `down ${Date.now() - t0} ms`);
          break;
        }
        case 'gateway-drop': {
          if (cluster.replicas.some((r) => r.paused) || !cluster.emus.discord.connected) break;
          record(kind, 'every live gateway socket');
          // Resolves once the bots RESUMEd; a replica killed meanwhile never will, which is fine.
          await cluster.emus.discord.dropConnection(5_000).catch(() => undefined);
          break;
        }
        case 'rpc-fail': {
          const method = RPC_METHODS[Math.floor(rng() * RPC_METHODS.length)]!;
          cluster.emus.solana.faults.failNextRpc(method, 503);
          record(kind, method);
          break;
        }
      }
    } catch (err) {
      record(kind, `injection failed: ${(err as Error).message}`);
    }
  }
}
