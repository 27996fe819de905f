import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../../app-context';
import { Factory, type TestUser } from '../../testing/factories';
import { createTestContext } from '../../testing/test-context';
import { createTestDatabase, type TestDatabase } from '../../testing/test-db';
import { QuotaExceeded, type ApiCaller } from './quota.service';
import { hashToken } from './quota.tokens';

let t: TestDatabase;
let ctx: AppContext;
let f: Factory;
const contexts: AppContext[] = [];

/** Another process on the same database: its own services, its own in-memory counters. */
const replica = (env: Record<string, string> = {}) => {
  const c = createTestContext(t, { API_BURST_PER_SECOND: '100000', ...env });
  contexts.push(c);
  return c;
};

beforeAll(async () => {
  t = await createTestDatabase();
  ctx = replica();
  f = new Factory(t.db);
});
afterAll(async () => {
  for (const c of contexts) await c.services.quota.stop();
  await t?.drop();
});

async function clientOf(c: AppContext, user: TestUser, name = 'app'): Promise<ApiCaller> {
  const { token } = await c.services.quota.createClient(user, { name });
  return c.services.quota.authenticate(`Bearer ${token}`);
}
const usageTotal = async (userId: bigint) =>
  BigInt((await sql<{ n: string }>`SELECT COALESCE(sum(requests + reported), 0) AS n FROM quota_usage WHERE user_id = ${userId}`.execute(t.db)).rows[0]!.n);
const snapshot = () =>
  Promise.all(
    ['api_clients', 'api_client_environments', 'quota_vouchers', 'quota_redeemed_vouchers', 'quota_user_packages', 'quota_usage', 'quota_usage_reports'].map(
      async (table) => (await sql`SELECT * FROM ${sql.table(table)} ORDER BY 1`.execute(t.db)).rows,
    ),
  );

describe('usage invariant', () => {
  it('usage in a period = accepted requests + reported segments, across two replicas and reports', async () => {
    const user = await f.user();
    const a = replica({ API_FREE_REQUESTS_PER_MONTH: '100000' });
    const b = replica({ API_FREE_REQUESTS_PER_MONTH: '100000' });
    const caller = await clientOf(a, user);
    const reporter = await a.services.quota.createReporter('inv-node');
    await a.services.quota.adminUpdateClient(caller.clientId, { reporterId: reporter.reporter.id });

    let accepted = 0n;
    let reported = 0n;
    const work: Promise<unknown>[] = [];
    for (let i = 0; i < 300; i++) {
      const svc = (i % 2 ? a : b).services.quota;
      work.push(svc.meterRequest(caller, i % 3 ? 'api.me' : 'api.balances').then(() => (accepted += 1n)));
      if (i % 50 === 0) {
        work.push(svc.report(reporter.reporter.id, { reportId: `inv-${i}`, environmentId: caller.environmentId, method: 'rpc.call', segments: 5n }).then(() => (reported += 5n)));
        // A retried report is not counted twice.
        work.push(svc.report(reporter.reporter.id, { reportId: `inv-${i}`, environmentId: caller.environmentId, method: 'rpc.call', segments: 5n }));
      }
      if (i % 97 === 0) work.push(svc.meter.flush());
    }
    await Promise.all(work);
    // Before the flush, what is missing from the table is exactly what the processes hold unflushed (the crash bound).
    const unflushed = a.services.quota.meter.unflushed + b.services.quota.meter.unflushed;
    expect(await usageTotal(user.id)).toBe(accepted + reported - unflushed);
    await a.services.quota.meter.flush();
    await b.services.quota.meter.flush();
    expect(accepted).toBe(300n);
    expect(reported).toBe(30n);
    expect(await usageTotal(user.id)).toBe(accepted + reported);
  });

  it('a crash loses only the unflushed counts, never more (and never counts anything twice)', async () => {
    const user = await f.user();
    const doomed = createTestContext(t, { API_BURST_PER_SECOND: '100000', API_FLUSH_MS: '60000' });
    const caller = await clientOf(doomed, user);
    for (let i = 0; i < 20; i++) await doomed.services.quota.meterRequest(caller, 'api.me');
    await doomed.services.quota.meter.flush();
    for (let i = 0; i < 7; i++) await doomed.services.quota.meterRequest(caller, 'api.me');
    expect(doomed.services.quota.meter.unflushed).toBe(7n);
    // The process dies here: its unflushed counts go with it. 27 were accepted; 20 are counted.
    expect(await usageTotal(user.id)).toBe(20n);
  });

  it('the check is conservative across replicas: others\' recent growth is reserved', async () => {
    const user = await f.user();
    const a = replica({ API_FREE_REQUESTS_PER_MONTH: '100' });
    const b = replica({ API_FREE_REQUESTS_PER_MONTH: '100' });
    const caller = await clientOf(a, user);
    // A steady rate on both replicas with a flush between rounds (as the 1 s timer would).
    let accepted = 0;
    for (let round = 0; round < 30; round++) {
      for (const r of [a, b]) {
        for (let i = 0; i < 3; i++) {
          try {
            await r.services.quota.meterRequest(caller, 'api.me');
            accepted++;
          } catch (err) {
            if (!(err instanceof QuotaExceeded)) throw err;
          }
        }
      }
      await a.services.quota.meter.flush();
      await b.services.quota.meter.flush();
    }
    expect(accepted).toBeLessThanOrEqual(100);
    expect(accepted).toBeGreaterThan(90);
    expect(await usageTotal(user.id)).toBe(BigInt(accepted));
  });
});

describe('vouchers', () => {
  it('unknown / expired / used up / already redeemed: clear error, nothing changes', async () => {
    const q = ctx.services.quota;
    const bundle = await q.createBundle({ name: 'v-10', requests: 10n });
    const pkg = await q.createPackage({ name: 'v-pack', bundles: [{ bundleId: bundle.id }] });
    await q.createVoucher({ code: 'ONE-USE', packageId: pkg.id, uses: 1, validUntil: new Date(Date.now() + 86_400_000) });
    const short = await q.createVoucher({ code: 'SHORT-LIVED', packageId: pkg.id, uses: 5, validUntil: new Date(Date.now() + 60_000) });
    await sql`UPDATE quota_vouchers SET valid_until = now() - interval '1 second' WHERE id = ${short.id}`.execute(t.db);
    const [m1, m2] = [await f.user(), await f.user()];
    await q.redeem(m1, 'one-use');

    const before = await snapshot();
    const cases: Array<[TestUser, string, string, RegExp]> = [
      [m1, 'NO-SUCH-CODE', 'VOUCHER_UNKNOWN', /No voucher NO-SUCH-CODE/],
      [m1, 'bad code!', 'VOUCHER_UNKNOWN', /not a voucher code/],
      [m1, 'SHORT-LIVED', 'VOUCHER_EXPIRED', /expired/],
      [m1, 'ONE-USE', 'VOUCHER_ALREADY_REDEEMED', /already redeemed/],
      [m2, 'ONE-USE', 'VOUCHER_USED_UP', /no uses left/],
    ];
    for (const [m, code, errCode, message] of cases) {
      await expect(q.redeem(m, code), code).rejects.toMatchObject({ code: errCode, message: expect.stringMatching(message) });
    }
    expect(await snapshot()).toEqual(before);
  });

  it('concurrent redemptions never exceed uses_left', async () => {
    const q = ctx.services.quota;
    const bundle = await q.createBundle({ name: 'race-10', requests: 10n });
    const pkg = await q.createPackage({ name: 'race-pack', bundles: [{ bundleId: bundle.id }] });
    await q.createVoucher({ code: 'RACE-3', packageId: pkg.id, uses: 3, validUntil: new Date(Date.now() + 86_400_000) });
    const members = await Promise.all(Array.from({ length: 8 }, () => f.user()));
    const results = await Promise.allSettled(members.map((m) => q.redeem(m, 'RACE-3')));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    const left = await t.db.selectFrom('quota_vouchers').select('uses_left').where('code', '=', 'RACE-3').executeTakeFirstOrThrow();
    expect(left.uses_left).toBe(0);
  });
});

describe('clients: bad input changes nothing', () => {
  it('refuses bad names, origins, contacts, duplicates and unknown clients', async () => {
    const q = ctx.services.quota;
    const owner = await f.user();
    await q.createClient(owner, { name: 'dup' });
    const before = await snapshot();
    await expect(q.createClient(owner, { name: 'dup' })).rejects.toMatchObject({ code: 'CLIENT_NAME_TAKEN' });
    await expect(q.createClient(owner, { name: '' })).rejects.toMatchObject({ code: 'INVALID_CLIENT_NAME' });
    await expect(q.createClient(owner, { name: 'x', allowedOrigins: ['https://a.example/path'] })).rejects.toMatchObject({ code: 'INVALID_ORIGIN' });
    await expect(q.createClient(owner, { name: 'x', allowedOrigins: ['not a url'] })).rejects.toMatchObject({ code: 'INVALID_ORIGIN' });
    await expect(q.createClient(owner, { name: 'x', contacts: ['nobody'] })).rejects.toMatchObject({ code: 'INVALID_CONTACT' });
    await expect(q.rotate(owner, 'missing', 'dev')).rejects.toMatchObject({ code: 'CLIENT_NOT_FOUND' });
    await expect(q.revoke(owner, 'dup', 'stage')).rejects.toMatchObject({ code: 'ENVIRONMENT_NOT_FOUND' });
    // Another member cannot touch it.
    await expect(q.revoke(await f.user(), 'dup', 'prod')).rejects.toMatchObject({ code: 'CLIENT_NOT_FOUND' });
    expect(await snapshot()).toEqual(before);
  });

  it('stores only the token hash', async () => {
    const owner = await f.user();
    const { token } = await ctx.services.quota.createClient(owner, { name: 'hashed' });
    const rows = await sql`SELECT * FROM api_client_environments`.execute(t.db);
    expect(JSON.stringify(rows.rows, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))).not.toContain(token.slice(8));
    expect(rows.rows.some((r) => (r as { token_hash: string }).token_hash === hashToken(token))).toBe(true);
  });
});

describe('jobs', () => {
  it('quota-reconcile repairs reported usage that drifted from the reports, and says so', async () => {
    const q = ctx.services.quota;
    const user = await f.user();
    const caller = await clientOf(ctx, user, 'rec');
    const rep = await q.createReporter('rec-node');
    await q.adminUpdateClient(caller.clientId, { reporterId: rep.reporter.id });
    await q.report(rep.reporter.id, { reportId: 'a', environmentId: caller.environmentId, method: 'm', segments: 4n });
    await q.report(rep.reporter.id, { reportId: 'b', environmentId: caller.environmentId, method: 'm', segments: 6n });
    expect(await q.reconcile()).toEqual({ fixed: 0 });
    await sql`UPDATE quota_usage SET reported = 3 WHERE user_id = ${user.id}`.execute(t.db);
    expect(await q.reconcile()).toEqual({ fixed: 1 });
    expect(await usageTotal(user.id)).toBe(10n);
  });

  it('quota-rollover closes only periods whose month has ended, once', async () => {
    const q = ctx.services.quota;
    const user = await f.user();
    const caller = await clientOf(ctx, user, 'roll');
    await q.meterRequest(caller, 'api.me');
    await q.meter.flush();
    const account = await t.db.selectFrom('quota_accounts').selectAll().where('user_id', '=', user.id).executeTakeFirstOrThrow();
    const end = new Date(Date.UTC(account.period_start.getUTCFullYear(), account.period_start.getUTCMonth() + 1, account.anchor_day));
    const closedBefore = (await t.db.selectFrom('quota_periods').selectAll().where('user_id', '=', user.id).execute()).length;
    await q.rollover(new Date(end.getTime() - 1000));
    expect(await t.db.selectFrom('quota_periods').selectAll().where('user_id', '=', user.id).execute()).toHaveLength(closedBefore);
    await q.rollover(end);
    await q.rollover(end);
    const closed = await t.db.selectFrom('quota_periods').selectAll().where('user_id', '=', user.id).execute();
    expect(closed).toEqual([expect.objectContaining({ period_start: account.period_start, period_end: end, requests: 1n })]);
    const moved = await t.db.selectFrom('quota_accounts').selectAll().where('user_id', '=', user.id).executeTakeFirstOrThrow();
    expect(moved.period_start).toEqual(end);
  });
});
