import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LockNamespace } from '../db/advisory-lock';
import { createDb, createPool } from '../db/database';
import type { AppContext } from '../app-context';
import { createTestContext } from '../testing/test-context';
import { createTestDatabase, type TestDatabase } from '../testing/test-db';
import { createMetrics } from '../metrics';
import { defineJob } from './job';
import { JobRunner } from './job-runner';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t.drop());

describe('JobRunner', () => {
  it('two runners (two replicas) never run the same job at once', async () => {
    let active = 0;
    let maxActive = 0;
    let runs = 0;
    const job = defineJob({
      name: 'exclusive',
      schedule: '* * * * *',
      run: async () => {
        active++;
        maxActive = Math.max(maxActive, active);
        runs++;
        await new Promise((r) => setTimeout(r, 30));
        active--;
      },
    });
    const ctx = createTestContext(t);
    const a = new JobRunner(ctx, [job], createMetrics());
    const b = new JobRunner(ctx, [job], createMetrics());
    const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).runNow('exclusive')));
    expect(maxActive).toBe(1);
    const ok = outcomes.filter((o) => o.status === 'ok').length;
    const skipped = outcomes.filter((o) => o.status === 'skipped').length;
    expect(ok).toBe(runs);
    expect(ok).toBeGreaterThanOrEqual(1);
    expect(skipped).toBeGreaterThanOrEqual(1);
    expect(ok + skipped).toBe(20);
  });

  it('releases the lock after a failure, records it, and a later run proceeds', async () => {
    let fail = true;
    const job = defineJob({
      name: 'flaky',
      schedule: '*/5 * * * *',
      run: async () => {
        if (fail) throw new Error('boom');
        return 'done';
      },
    });
    const metrics = createMetrics();
    const runner = new JobRunner(createTestContext(t), [job], metrics);
    const first = await runner.runNow('flaky');
    expect(first.status).toBe('failed');
    fail = false;
    expect(await runner.runNow('flaky')).toEqual({ status: 'ok', result: 'done' });
    const text = await metrics.registry.metrics();
    expect(text).toContain('solbound_job_runs_total{job="flaky",outcome="failed"} 1');
    expect(text).toContain('solbound_job_runs_total{job="flaky",outcome="ok"} 1');
  });

  it('rejects a bad cron expression and duplicate names at construction', () => {
    const ctx = createTestContext(t);
    const run = async () => undefined;
    expect(() => new JobRunner(ctx, [defineJob({ name: 'x', schedule: 'every minute', run })])).toThrow(/invalid cron/);
    expect(() => new JobRunner(ctx, [defineJob({ name: 'x', schedule: '* * * * *', run }), defineJob({ name: 'x', schedule: '* * * * *', run })])).toThrow(/duplicate/);
  });

  it('schedules in UTC and stops cleanly, waiting for a run in flight', async () => {
    let finished = false;
    const job = defineJob({
      name: 'every-second',
      schedule: '* * * * * *',
      run: async () => {
        await new Promise((r) => setTimeout(r, 200));
        finished = true;
      },
    });
    const runner = new JobRunner(createTestContext(t), [job]);
    runner.start();
    await new Promise((r) => setTimeout(r, 1300));
    await runner.stop();
    expect(finished).toBe(true);
  });

  it('a small pool and 8 jobs due in the same tick: every job completes (the locks do not use the pool)', async () => {
    const small = await createTestDatabase({ poolMax: 3 });
    try {
      const ctx = createTestContext(small);
      const ran = new Map<string, number>();
      // Each job's work needs a pooled connection (a transaction with two statements): had each lock holder kept a
      // pooled connection, 3 holders would wait forever for a 4th.
      const jobs = Array.from({ length: 8 }, (_, i) =>
        defineJob({
          name: `burst-${i}`,
          schedule: '* * * * * *',
          run: async (c) => {
            await c.db.transaction().execute(async (trx) => {
              await sql`select pg_sleep(0.05)`.execute(trx);
              await sql`select 1`.execute(trx);
            });
            ran.set(`burst-${i}`, (ran.get(`burst-${i}`) ?? 0) + 1);
          },
        }),
      );
      const runner = new JobRunner(ctx, jobs);
      const outcomes = await Promise.all(jobs.map((j) => runner.runNow(j.name)));
      expect(outcomes.map((o) => o.status)).toEqual(Array(8).fill('ok'));
      // The same through the scheduler: all 8 fire in each second's tick, and every one keeps completing.
      ran.clear();
      runner.start();
      await expect.poll(() => jobs.every((j) => (ran.get(j.name) ?? 0) >= 2), { timeout: 15_000, interval: 100 }).toBe(true);
      await runner.stop();
    } finally {
      await small.drop();
    }
  });

  it('two runners on separate pools (two replicas) never run the same job tick concurrently', async () => {
    const otherDb = createDb(createPool(t.url, 3));
    try {
      let active = 0;
      let maxActive = 0;
      let runs = 0;
      const job = defineJob({
        name: 'cluster-exclusive',
        schedule: '* * * * * *',
        run: async (c) => {
          active++;
          maxActive = Math.max(maxActive, active);
          runs++;
          await sql`select pg_sleep(0.2)`.execute(c.db);
          active--;
        },
      });
      const ctxA = createTestContext(t);
      const ctxB: AppContext = { ...createTestContext(t), db: otherDb };
      const a = new JobRunner(ctxA, [job]);
      const b = new JobRunner(ctxB, [job]);
      const outcomes = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).runNow(job.name)));
      expect(maxActive).toBe(1);
      expect(outcomes.filter((o) => o.status === 'ok').length).toBe(runs);
      expect(outcomes.filter((o) => o.status === 'skipped').length).toBeGreaterThanOrEqual(1);
      // Scheduled: both fire every second; per tick one runs and the other skips.
      a.start();
      b.start();
      const before = runs;
      await expect.poll(() => runs - before, { timeout: 10_000, interval: 100 }).toBeGreaterThanOrEqual(3);
      await Promise.all([a.stop(), b.stop()]);
      expect(maxActive).toBe(1);
    } finally {
      await otherDb.destroy();
    }
  });

  it('a tick runs once cluster-wide: a runner firing after a quick run released the lock skips it, and older ticks too', async () => {
    let runs = 0;
    const job = defineJob({ name: 'once-per-tick', schedule: '* * * * * *', run: async () => ++runs });
    const a = new JobRunner(createTestContext(t), [job]);
    const b = new JobRunner(createTestContext(t), [job]);
    const tick = new Date('2026-11-28T12:00:05.000Z');
    // The lock is free again by the time the late runner fires: only the tick claim tells it the tick already ran.
    expect(await a.runNow(job.name, tick)).toEqual({ status: 'ok', result: 1 });
    expect(await b.runNow(job.name, tick)).toEqual({ status: 'skipped' });
    expect(await b.runNow(job.name, new Date('2026-11-28T12:00:04.000Z'))).toEqual({ status: 'skipped' });
    expect(await b.runNow(job.name, new Date('2026-11-28T12:00:06.000Z'))).toEqual({ status: 'ok', result: 2 });
    // Both fired for the same tick at once: one runs it.
    const next = new Date('2026-11-28T12:00:07.000Z');
    const both = await Promise.all([a.runNow(job.name, next), b.runNow(job.name, next)]);
    expect(both.map((o) => o.status).sort()).toEqual(['ok', 'skipped']);
    expect(runs).toBe(3);
    // A manual run (no tick) is not a tick: it runs and leaves the record alone.
    expect(await a.runNow(job.name)).toEqual({ status: 'ok', result: 4 });
    const row = await t.db.selectFrom('job_ticks').selectAll().where('job', '=', job.name).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ tick: next, runner: expect.stringMatching(/:\d+$/) });
  });

  it('the lock connection terminated mid-run: the lock is gone, the run reports it, and the runner takes it again', async () => {
    const otherDb = createDb(createPool(t.url, 3));
    try {
      let release!: () => void;
      let gate = new Promise<void>((r) => (release = r));
      let started!: () => void;
      const running = new Promise<void>((r) => (started = r));
      const job = defineJob({
        name: 'lock-loss',
        schedule: '0 0 1 1 *',
        run: async (_c, lockLost) => {
          started();
          await gate;
          return lockLost.aborted ? 'saw the loss' : 'held';
        },
      });
      const a = new JobRunner(createTestContext(t), [job]);
      const b = new JobRunner({ ...createTestContext(t), db: otherDb }, [job]);
      const first = a.runNow(job.name);
      await running;
      expect(await b.runNow(job.name)).toEqual({ status: 'skipped' });
      const { rows } = await sql<{ pid: number }>`
        select pid from pg_locks where locktype = 'advisory' and classid = ${LockNamespace.job}
          and database = (select oid from pg_database where datname = current_database())`.execute(t.db);
      expect(rows).toHaveLength(1);
      await sql`select pg_terminate_backend(${rows[0]!.pid})`.execute(t.db);
      // Postgres released the lock with the session, so the other replica may run the job now (gate is open for it).
      const gateA = release;
      gate = Promise.resolve();
      await expect.poll(async () => (await b.runNow(job.name)).status, { timeout: 10_000, interval: 50 }).toBe('ok');
      gateA();
      const lost = await first;
      expect(lost.status).toBe('failed');
      expect(lost.status === 'failed' && lost.error.message).toMatch(/lost its cluster-wide lock mid-run/);
      // The runner that lost its connection opens a new one and runs the job again.
      expect(await a.runNow(job.name)).toEqual({ status: 'ok', result: 'held' });
    } finally {
      await otherDb.destroy();
    }
  });
});
