import { sql, type Kysely } from 'kysely';
import type { DB, Timestamp } from './schema';

// Kysely view of migrations/2026_11_28_225000_job_ticks.ts and its one write.

export interface JobTicksTable {
  job: string;
  /** The schedule's time of the last tick a runner claimed. */
  tick: Timestamp;
  /** host:pid of the process that claimed it. */
  runner: string;
  claimed_at: Timestamp;
}

export interface JobTickTables {
  job_ticks: JobTicksTable;
}

/**
 * Claims `tick` of `job` for this runner: true once per tick cluster-wide, and never for a tick older than one already
 * claimed (a replica whose timer fired late, or whose clock lags, does not run a tick again).
 */
export async function claimJobTick(db: Kysely<DB>, job: string, tick: Date, runner: string): Promise<boolean> {
  const row = await db
    .insertInto('job_ticks')
    .values({ job, tick, runner, claimed_at: sql<Date>`now()` })
    .onConflict((oc) =>
      oc
        .column('job')
        .doUpdateSet({ tick: (eb) => eb.ref('excluded.tick'), runner: (eb) => eb.ref('excluded.runner'), claimed_at: sql<Date>`now()` })
        .where('job_ticks.tick', '<', (eb) => eb.ref('excluded.tick')),
    )
    .returning('job')
    .executeTakeFirst();
  return row !== undefined;
}
