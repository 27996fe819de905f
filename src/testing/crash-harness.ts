import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql, type Kysely } from 'kysely';
import type { DB } from '../db/schema';
import { spawnChild, type Child } from './child-process';

/*
 * Real process deaths for the "kill -9 in any state" tests (badges, withdrawals, webhooks, billing notices): a worker
 * process (a script calling crash-worker.ts's bootWorker: config and services built from the environment as the app
 * builds them) is started, driven until the state under test is provably reached, SIGKILLed, and then a restart is
 * checked to finish the work exactly once. This file is the test side; crash-worker.ts is the worker side.
 */

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** What a worker prints once booted (config, database, services built); it then waits for a line on stdin. */
export const WORKER_READY = 'worker ready';

export interface CrashWorker {
  readonly child: Child;
  /** Resolves once booted; rejects if it exits first. */
  readonly ready: Promise<void>;
  /** Lets a booted worker start its work. */
  go(): void;
  readonly exited: boolean;
  /** Whether the worker printed exactly this line on stdout. */
  printed(line: string): boolean;
  /** The last stdout lines, for failure messages. */
  output(): string;
}

export interface CrashHarnessOptions {
  /** The worker script (run as `node --import tsx <worker> ...args` from the repository root). */
  worker: string;
  /** The workers' environment, read at each spawn (tests fill it in beforeAll). Nothing else is inherited but PATH. */
  env: () => Record<string, string>;
  /**
   * How long `until` waits. Each worker is a tsx process loading the whole service graph, which takes seconds on a
   * loaded 2-core machine: a bound, not a performance expectation.
   */
  waitMs?: number;
}

export class CrashHarness {
  private readonly waitMs: number;
  private readonly live = new Set<CrashWorker>();
  /** Booting a worker dominates these tests' time, so the next default worker can boot while the current one runs. */
  private spare: CrashWorker | undefined;

  constructor(private readonly opts: CrashHarnessOptions) {
    this.waitMs = opts.waitMs ?? 45_000;
  }

  /** Spawns a worker (not started: see `start`). */
  spawn(o: { env?: Record<string, string>; args?: string[] } = {}): CrashWorker {
    const child = spawnChild(process.execPath, ['--import', 'tsx', this.opts.worker, ...(o.args ?? [])], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', ...this.opts.env(), ...o.env },
      stdin: 'pipe',
    });
    const output = () => child.lines.slice(-60).map((l) => l.raw).join('\n');
    const ready = child.waitForLine((l) => l.raw === WORKER_READY, this.waitMs).then(() => undefined);
    ready.catch(() => undefined);
    const w: CrashWorker = {
      child,
      ready,
      go: () => void child.process.stdin!.write('go\n'),
      get exited() {
        return child.process.exitCode !== null || child.process.signalCode !== null;
      },
      printed: (line) => child.lines.some((l) => l.raw === line),
      output,
    };
    this.live.add(w);
    child.process.once('exit', () => this.live.delete(w));
    return w;
  }

  /**
   * A booted, started worker: `env`/`args` as for `spawn`. Without them, the spare booted meanwhile is used and
   * (unless `prefetch: false`) the next one spawned.
   */
  async start(o: { env?: Record<string, string>; args?: string[]; prefetch?: boolean } = {}): Promise<CrashWorker> {
    const custom = o.env !== undefined || o.args !== undefined;
    const w = custom ? this.spawn(o) : (this.spare ?? this.spawn());
    if (!custom) {
      this.spare = undefined;
      if (o.prefetch) this.spare = this.spawn();
    }
    await w.ready.catch((err: unknown) => {
      throw new Error(`worker did not boot: ${err instanceof Error ? err.message : String(err)}`);
    });
    w.go();
    return w;
  }

  /** Polls until `check` holds (bounded); fails early, with its output, if the worker died on its own. */
  async until(what: string, check: () => Promise<boolean> | boolean, w?: CrashWorker): Promise<void> {
    const deadline = Date.now() + this.waitMs;
    for (;;) {
      if (await check()) return;
      if (w?.exited) throw new Error(`worker exited (${w.child.process.exitCode ?? w.child.process.signalCode}) before: ${what}\n${w.output()}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}${w ? `\n${w.output()}` : ''}`);
      await sleep(10);
    }
  }

  /**
   * SIGKILL, and proof it died by the signal (not of its own accord in between). With `locks`, then waits for the
   * server to drop the dead session and with it its advisory locks in that namespace, so what follows does not
   * depend on how fast PostgreSQL notices.
   */
  async kill9(w: CrashWorker, locks?: { db: Kysely<DB>; namespace: number }): Promise<void> {
    await w.child.stop('SIGKILL');
    if (w.child.process.signalCode !== 'SIGKILL') throw new Error(`worker was not killed by SIGKILL (exit ${w.child.process.exitCode})\n${w.output()}`);
    if (!locks) return;
    await this.until("the dead worker's advisory locks released", async () => {
      const { rows } = await sql<{ n: number }>`
        select count(*)::int as n from pg_locks
        where locktype = 'advisory' and classid = ${locks.namespace}
          and database = (select oid from pg_database where datname = current_database())`.execute(locks.db);
      return rows[0]!.n === 0;
    });
  }

  /** Kills every worker still running (afterEach: `keepSpare` leaves the booting spare for the next test). */
  async killAll(o: { keepSpare?: boolean } = {}): Promise<void> {
    const keep = o.keepSpare ? this.spare : undefined;
    await Promise.all([...this.live].filter((w) => w !== keep).map((w) => w.child.stop('SIGKILL')));
    if (!keep) this.spare = undefined;
  }
}
