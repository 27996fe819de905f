import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServices } from '../../app';
import { appModules } from '../../modules';
import { JobRunner } from '../../jobs/job-runner';
import { createMetrics } from '../../metrics';
import { createTestContext } from '../../testing/test-context';
import { createTestDatabase, type TestDatabase } from '../../testing/test-db';
import nonceCleanup from './nonce-cleanup.job';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t.drop());

describe('wallet-nonce-cleanup job', () => {
  it('is registered, every 5 minutes', () => {
    expect(appModules.flatMap((m) => m.jobs ?? [])).toContain(nonceCleanup);
    expect(nonceCleanup.schedule).toBe('*/5 * * * *');
  });

  it('deletes only nonces past expiry + grace, in batches, and counts them in the metric', async () => {
    const metrics = createMetrics();
    const ctx = { ...createTestContext(t), services: createServices(t.db, metrics) };
    const user = await ctx.services.users.ensure('700000000000000001', 'janitor');
    // 12,000 dead nonces (more than two 5,000-row batches), 3 recent ones (one used, one superseded, one open).
    await sql`
      INSERT INTO registration_nonces (nonce, user_id, discord_id, discord_username, base_url, created_at, expires_at, used_at)
      SELECT 'old' || g, ${user.id}, ${user.discord_id}, 'janitor', 'http://x', now() - interval '3 hours', now() - interval '2 hours 50 minutes',
             CASE WHEN g % 2 = 0 THEN now() - interval '2 hours 55 minutes' END
      FROM generate_series(1, 12000) g`.execute(t.db);
    await sql`
      INSERT INTO registration_nonces (nonce, user_id, discord_id, discord_username, base_url, created_at, expires_at, used_at, invalidated_at)
      VALUES ('recent-used', ${user.id}, ${user.discord_id}, 'janitor', 'http://x', now() - interval '20 minutes', now() - interval '10 minutes', now() - interval '15 minutes', NULL),
             ('recent-superseded', ${user.id}, ${user.discord_id}, 'janitor', 'http://x', now() - interval '5 minutes', now() + interval '5 minutes', NULL, now()),
             ('open', ${user.id}, ${user.discord_id}, 'janitor', 'http://x', now(), now() + interval '10 minutes', NULL, NULL)`.execute(t.db);

    const outcome = await new JobRunner(ctx, [nonceCleanup], metrics).runNow('wallet-nonce-cleanup');
    expect(outcome).toEqual({ status: 'ok', result: { nonces: 12000, batches: 3, attempts: 0 } });
    const left = await t.db.selectFrom('registration_nonces').select('nonce').orderBy('nonce').execute();
    expect(left.map((r) => r.nonce)).toEqual(['open', 'recent-superseded', 'recent-used']);
    expect((await metrics.walletNoncesDeleted.get()).values[0]?.value).toBe(12000);
    expect(await metrics.registry.metrics()).toContain('solbound_wallet_nonces_deleted_total 12000');

    // Nothing left to do: a second run deletes nothing.
    expect(await ctx.services.wallets.cleanup()).toEqual({ nonces: 0, batches: 0, attempts: 0 });
  });
});
