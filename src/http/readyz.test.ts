import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, createPool, withDatabase } from '../db/database';
import { createMetrics } from '../metrics';
import { captureLogs } from '../testing/log-capture';
import { createTestContext } from '../testing/test-context';
import { createTestDatabase, type TestDatabase } from '../testing/test-db';
import { createHttpServer } from './server';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await t?.drop();
});

describe('/readyz', () => {
  it('a database error is not shown: "unavailable" with a ref id; the error is logged with that ref', async () => {
    // A database that does not exist: the driver's message names it, which must not leak to the probe.
    const missing = 'secret_name_of_a_missing_database';
    const db = createDb(createPool(withDatabase(t.url, missing), 1));
    const { log, lines } = captureLogs('info');
    const base = createTestContext(t);
    const app = await createHttpServer({ ctx: { ...base, db, log }, metrics: createMetrics() });
    try {
      const res = await app.inject('/readyz');
      expect(res.statusCode).toBe(503);
      const body = res.json<{ status: string; checks: Record<string, string>; ref: string }>();
      expect(body).toEqual({ status: 'not_ready', checks: { database: 'unavailable' }, ref: expect.stringMatching(/^[0-9a-f]{8}$/) });
      expect(res.body).not.toContain(missing);
      const logged = lines.find((l) => l.ref === body.ref);
      expect(logged).toMatchObject({ level: 50, msg: 'readiness check: database unavailable', err: { message: expect.stringContaining(missing) } });
    } finally {
      await app.close();
      await db.destroy();
    }
  });
});
