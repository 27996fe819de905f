import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
});
