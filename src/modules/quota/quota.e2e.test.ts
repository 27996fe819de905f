import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failOnEmulatorGaps } from '../../emulators/discord/vitest-helpers';
import { runScript } from '../../sandbox/console';
import { startTestApp, type TestApp } from '../../testing/test-app';

const ADMIN = 'admin-token-for-quota-e2e-tests-0001';
let bot: TestApp;

beforeAll(async () => {
  bot = await startTestApp({ env: { ADMIN_TOKEN: ADMIN, API_FREE_REQUESTS_PER_MONTH: '2' } });
});
afterAll(async () => {
  await bot?.close();
});
failOnEmulatorGaps(() => bot?.emu);

const api = (token: string, path: string) => fetch(`${bot.app.httpUrl}/api/v1${path}`, { headers: { authorization: `Bearer ${token}` } });
const admin = async (path: string, body: object) => {
  const res = await fetch(`${bot.app.httpUrl}/admin${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as { id: string };
};

describe('partner API end to end', () => {
  it('client → token → API → quota used → 429 → voucher → allowed → rollover renews on the anchor day', async () => {
    const alice = bot.emu.user('alice');
    const created = await bot.emu.runCommand(alice, '/api client create', { name: 'game' }).reply();
    expect(created.ephemeral).toBe(true);
    const token = /sb_live_[\w-]{32}/.exec(created.content ?? '')?.[0];
    expect(token, created.content ?? '').toBeDefined();

    const listed = await bot.emu.runCommand(alice, '/api client list').reply();
    expect(listed.ephemeral).toBe(true);
    expect(listed.content).toContain(`**game** — prod …${token!.slice(-4)}`);
    expect(listed.content).not.toContain(token!);

    // Free allowance: 2 requests.
    for (let i = 0; i < 2; i++) expect((await api(token!, '/me')).status).toBe(200);
    const quota = await bot.emu.runCommand(alice, '/quota').reply();
    expect(quota.ephemeral).toBe(true);
    expect(quota.content).toContain('`████████████████████ 100%` 2 / 2 requests');

    const over = await api(token!, '/me');
    expect(over.status).toBe(429);
    expect(over.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(over.headers.get('ratelimit')).toMatch(/^"monthly";r=0;/);

    const bundle = await admin('/quota/bundles', { name: 'starter-10', requests: 10 });
    const pkg = await admin('/quota/packages', { name: 'starter', bundles: [{ bundleId: bundle.id }] });
    await admin('/quota/vouchers', { code: 'WELCOME-10', packageId: pkg.id, uses: 5, validUntil: new Date(Date.now() + 86_400_000).toISOString() });

    const unknown = await bot.emu.runCommand(alice, '/redeem', { code: 'NOPE-NOPE' }).reply();
    expect(unknown.content).toMatch(/No voucher NOPE-NOPE/);
    const redeemed = await bot.emu.runCommand(alice, '/redeem', { code: 'welcome-10' }).reply();
    expect(redeemed.ephemeral).toBe(true);
    expect(redeemed.content).toMatch(/WELCOME-10\*\* redeemed/);
    const twice = await bot.emu.runCommand(alice, '/redeem', { code: 'WELCOME-10' }).reply();
    expect(twice.content).toMatch(/You already redeemed WELCOME-10/);

    expect((await api(token!, '/me')).status).toBe(200);
    const status = await (await api(token!, '/quota')).json();
    expect(status).toMatchObject({ total: { used: '3', allowance: '12' } });

    // Time passes to the member's next anchor day: the period that started a month ago ends now.
    const { db } = bot.t;
    await bot.ctx.services.quota.meter.flush();
    await sql`UPDATE quota_accounts SET period_start = period_start - interval '1 month'`.execute(db);
    await sql`UPDATE quota_usage SET period_start = period_start - interval '1 month'`.execute(db);
    const account = await db.selectFrom('quota_accounts').selectAll().executeTakeFirstOrThrow();
    const outcome = await bot.app.jobs.runNow('quota-rollover');
    expect(outcome).toMatchObject({ status: 'ok', result: { closed: 1 } });
    const history = await db.selectFrom('quota_periods').selectAll().execute();
    expect(history).toEqual([expect.objectContaining({ period_start: account.period_start, requests: 3n, reported: 0n })]);
    const renewed = (await (await api(token!, '/quota')).json()) as { periodStart: string };
    expect(renewed).toMatchObject({ total: { used: '0', allowance: '12' } });
    expect(new Date(renewed.periodStart).getUTCDate()).toBe(account.anchor_day);
    expect((await api(token!, '/me')).status).toBe(200);
    // Closed periods keep their usage rows.
    expect(await db.selectFrom('quota_usage').select('period_start').where('period_start', '=', account.period_start).execute()).not.toHaveLength(0);

    const revoked = await bot.emu.runCommand(alice, '/api client revoke', { name: 'game', environment: 'prod' }).reply();
    expect(revoked.content).toMatch(/revoked/);
    const after = await api(token!, '/me');
    expect(after.status).toBe(401);
    expect(after.headers.get('www-authenticate')).toMatch(/^Bearer /);
  });

  it("the README's sandbox steps work: console command → token → curl-style call", async () => {
    const [transcript] = await runScript(bot.emu, ['as erin /api client create name:my-game']);
    const token = /sb_live_[\w-]{32}/.exec(transcript ?? '')?.[0];
    expect(token, transcript).toBeDefined();
    const res = await api(token!, '/balances');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ balances: expect.arrayContaining([{ currency: 'SOL', amount: '0', decimals: 9 }]) });
  });
});
