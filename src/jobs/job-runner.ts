import { hostname } from 'node:os';
import cron, { type ScheduledTask } from 'node-cron';
import type { AppContext } from '../app-context';
import { LockNamespace, withTryAdvisoryLock } from '../db/advisory-lock';
import type { Metrics } from '../metrics';
import type { Job } from './job';
import { claimJobTick } from '../db/job-ticks';

export type JobOutcome = { status: 'ok'; result: unknown } | { status: 'skipped' } | { status: 'failed'; error: Error };

/**
 * Schedules jobs with node-cron (UTC, no overlap inside this process) and runs each under
 * pg_try_advisory_lock so that across replicas only one runs a given job at a time; the others skip. The locks live
 * on the process's dedicated lock connection (withTryAdvisoryLock), not on pooled ones, so any number of jobs due in
 * the same tick cannot starve the pool their work needs. A scheduled run also claims its tick (job_ticks) under the
 * lock, so a replica whose timer fired after a quick run had already released the lock does not run that tick again.
 */
export class JobRunner {
  private readonly tasks: ScheduledTask[] = [];
  private readonly running = new Set<Promise<JobOutcome>>();
  private readonly byName: Map<string, Job>;
  /** Who claimed a tick, for the operator reading job_ticks. */
  private readonly runnerId = `${hostname()}:${process.pid}`;

  constructor(
    private readonly ctx: AppContext,
    jobs: readonly Job[],
    private readonly metrics?: Metrics,
  ) {
    this.byName = new Map(jobs.map((j) => [j.name, j]));
    if (this.byName.size !== jobs.length) throw new Error('duplicate job names');
    for (const j of jobs) {
      if (!cron.validate(j.schedule)) throw new Error(`job ${j.name}: invalid cron expression "${j.schedule}"`);
    }
  }

  get jobs(): Job[] {
    return [...this.byName.values()];
  }

  start(): void {
    for (const job of this.byName.values()) {
      this.tasks.push(
        cron.schedule(job.schedule, (tick) => this.runNow(job.name, tick.date), { timezone: 'UTC', noOverlap: true, name: job.name }),
      );
    }
  }

  /**
   * Runs one job now (still under the cluster-wide lock). With `tick` (the schedule's time this run is for), it is
   * skipped when any runner already claimed that tick or a later one.
   */
  runNow(name: string, tick?: Date): Promise<JobOutcome> {
    const job = this.byName.get(name);
    if (!job) return Promise.reject(new Error(`unknown job ${name}`));
    const p = this.runLocked(job, tick).finally(() => this.running.delete(p));
    this.running.add(p);
    return p;
  }

  private async runLocked(job: Job, tick: Date | undefined): Promise<JobOutcome> {
    const { db, log } = this.ctx;
    const started = performance.now();
    // The run's span inside the lock (0 when it never started): runs of one job on any replicas never overlap.
    let startedAt = 0;
    let endedAt = 0;
    const failed = (err: unknown): JobOutcome => ({ status: 'failed', error: err instanceof Error ? err : new Error(String(err)) });
    // Taking or releasing the lock fails too when the database drops the connection (a restart, a failover): that
    // is this run failing, logged like one, not a rejection node-cron prints unstructured to stderr.
    const run = await withTryAdvisoryLock(db, LockNamespace.job, job.name, async (lockLost): Promise<JobOutcome | undefined> => {
      try {
        if (tick && !(await claimJobTick(db, job.name, tick, this.runnerId))) return undefined;
        startedAt = Date.now();
        const result = await job.run(this.ctx, lockLost);
        // Its lock went with its connection mid-run, so this run was not exclusive from then on: counted as failed
        // (logged below); the next tick takes the lock afresh on a new connection.
        if (lockLost.aborted) return failed(new Error('lost its cluster-wide lock mid-run (lock connection dropped)', { cause: lockLost.reason }));
        return { status: 'ok', result };
      } catch (err) {
        return failed(err);
      } finally {
        if (startedAt) endedAt = Date.now();
      }
    }).catch((err: unknown) => ({ locked: true as const, value: failed(err) }));
    const outcome: JobOutcome = (run.locked && run.value) || { status: 'skipped' };
    this.metrics?.jobRuns.inc({ job: job.name, outcome: outcome.status });
    if (outcome.status === 'failed') log.error({ job: job.name, err: outcome.error }, 'job failed');
    if (outcome.status !== 'skipped') {
      this.metrics?.jobDuration.observe({ job: job.name }, (performance.now() - started) / 1000);
      // Tick and span: the fault suite checks from these that no tick ran twice and no two runs of a job overlapped.
      log.debug({ job: job.name, status: outcome.status, tick: tick?.toISOString(), startedAt, endedAt }, 'job ran');
    }
    return outcome;
  }

  /** Stops scheduling and waits for runs in flight. */
  async stop(): Promise<void> {
    await Promise.all(this.tasks.map((t) => t.destroy()));
    this.tasks.length = 0;
    await Promise.allSettled([...this.running]);
  }
}
