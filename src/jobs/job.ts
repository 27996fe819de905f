import type { AppContext } from '../app-context';

export interface Job {
  /** Unique; also the advisory-lock key, so renaming a job changes its lock. */
  name: string;
  /** node-cron expression, evaluated in UTC (seconds field allowed). */
  schedule: string;
  /**
   * `lockLost` aborts when the connection holding this run's cluster-wide lock is lost (Postgres then released the
   * lock, and another replica may start the same job): a long job should stop at its next step.
   */
  run(ctx: AppContext, lockLost: AbortSignal): Promise<unknown>;
}

export const defineJob = (job: Job): Job => job;
