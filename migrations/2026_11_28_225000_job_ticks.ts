import { type Kysely } from 'kysely';

// Frozen: never import application code here.
// Each scheduled job tick runs once cluster-wide (issue 17). The advisory lock only keeps two replicas from running a
// job at the same moment: every replica's cron fires at the same tick, and a replica whose timer fired a few
// milliseconds late took the lock right after a quick run had released it and ran that tick again. A run now claims
// its tick here under the lock: one row per job, moved forward only (tick < the claimed one), so a tick is claimed
// once and never after a later one. The row also tells an operator when each job last ran and where.

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('job_ticks')
    .addColumn('job', 'text', (c) => c.primaryKey())
    .addColumn('tick', 'timestamptz', (c) => c.notNull())
    .addColumn('runner', 'text', (c) => c.notNull())
    .addColumn('claimed_at', 'timestamptz', (c) => c.notNull())
    .execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('job_ticks').execute();
}
