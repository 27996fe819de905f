import type { AppContext } from '../app-context';

export interface Job {
  /** Unique; also the advisory-lock key, so renaming a job changes its lock. */
  name: string;
  /** node-cron expression, evaluated in UTC (seconds field allowed). */
  schedule: string;
  run(ctx: AppContext): Promise<unknown>;
}

export const defineJob = (job: Job): Job => job;
