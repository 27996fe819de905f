import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../../app-context';
import { CrashHarness } from '../../testing/crash-harness';
import { Factory, type TestUser } from '../../testing/factories';
import { createTestContext } from '../../testing/test-context';
import { createTestDatabase, type TestDatabase } from '../../testing/test-db';
import { deliverDms, type DmPort } from '../dms/dm-outbox';
import { remindSubscriptions } from './billing-jobs';

/*
 * "Killed between the commit and the DM → the DM still arrives, once" for the membership DMs that used to be sent
 * after their commit (the 3-day / 1-day reminders, the invoice-expired notice), with real process deaths
 * (src/testing/crash-harness.ts): a worker (testing/billing-dm-worker.ts) runs the job with a Discord that never
 * answers a DM and is SIGKILLed inside the send; a process with a working Discord then delivers what is owed.
 */

const WORKER = fileURLToPath(new URL('./testing/billing-dm-worker.ts', import.meta.url));
const GUILD = '985000000000000001';
const DAY = 86_400_000;

let t: TestDatabase;
let ctx: AppContext;
let f: Factory;
let env: Record<string, string>;
let seq = 0;
const crash = new CrashHarness({ worker: WORKER, env: () => env });

beforeAll(async () => {
  t = await createTestDatabase();
  env = { LOG_LEVEL: 'silent', DATABASE_URL: t.url, DB_POOL_MAX: '4' };
  ctx = createTestContext(t, env);
  f = new Factory(t.db);
  await ctx.services.billing.catalog.createPlan(
    { discordId: '985000000000000002', via: 'discord' },
    { guildId: GUILD, code: 'vip', name: 'VIP', roleId: '985000000000000003', prices: [{ cycle: 'month', price: '1', currency: 'SOL' }] },
  );
});
afterEach(() => crash.killAll());
afterAll(async () => {
  await crash.killAll();
  await t?.drop();
});

const ref = (u: TestUser) => ({ discordId: u.discordId, username: u.username });
const subscribe = (u: TestUser) => ctx.services.billing.subscribe({ interactionId: `dm-crash-${++seq}`, guildId: GUILD, user: ref(u), plan: 'vip', cycle: 'month' });
const owed = (u: TestUser) => t.db.selectFrom('dm_outbox').selectAll().where('discord_id', '=', u.discordId).execute();

/** A process with a working Discord (the restart): what it DMs, to whom. */
function restarted(): { port: DmPort; got: string[] } {
  const got: string[] = [];
  return {
    got,
    port: {
      send: async (discordId, content) => {
        got.push(`${discordId} ${content}`);
        return 'sent';
      },
    },
  };
}

/** Runs the worker's job until it is inside the DM (its transaction committed), then kills it. */
async function killInsideTheDm(args: string[], u: TestUser): Promise<void> {
  const w = await crash.start({ args });
  await crash.until(`worker inside the DM to ${u.discordId}`, () => w.printed(`dm ${u.discordId}`), w);
  await crash.kill9(w);
}

/** The dead worker's lease (60 s) is what the restart waits out; ended by hand so the test need not sleep. */
const endLeases = () => t.db.updateTable('dm_outbox').set({ claimed_until: null }).where('sent_at', 'is', null).execute();

describe('membership DMs survive kill -9 between the commit and the send', () => {
  it('the 3-day reminder: marked and owed together; the restart sends it once, a rerun owes nothing new', async () => {
    const u = await f.user();
    await f.balance(u);
    const { subscription } = await ctx.services.billing.payFromBalance((await subscribe(u)).invoice.id, ref(u));
    const at3d = subscription!.expires_at.getTime() - 3 * DAY + 3_600_000;

    await killInsideTheDm(['remind', String(at3d)], u);
    const s = await ctx.services.billing.subscription(subscription!.id);
    expect(s?.reminded_3d_at).toEqual(new Date(at3d));
    expect(await owed(u)).toEqual([expect.objectContaining({ key: `billing.reminder.3d:${s!.id}:${s!.expires_at.getTime()}`, sent_at: null, attempts: 1 })]);

    await endLeases();
    const after = restarted();
    expect(await deliverDms({ db: t.db, log: ctx.log, dms: after.port })).toMatchObject({ sent: 1 });
    expect(after.got).toEqual([expect.stringMatching(new RegExp(`^${u.discordId} ⏳ Your \\*\\*VIP\\*\\* membership ends <t:\\d+:R>`))]);
    // The job's next run (any replica) finds it reminded: nothing new owed, nothing sent twice.
    expect(await remindSubscriptions({ ...ctx, effects: { dms: after.port } }, { now: new Date(at3d + 60_000) })).toMatchObject({ sent3d: 0, sent1d: 0 });
    expect(await deliverDms({ db: t.db, log: ctx.log, dms: after.port })).toMatchObject({ sent: 0 });
    expect(after.got).toHaveLength(1);
    expect(await owed(u)).toEqual([expect.objectContaining({ sent_at: expect.any(Date), attempts: 2 })]);
  });

  it('the invoice-expired notice: owed by the transaction that expired the invoice; the restart sends it once', async () => {
    const u = await f.user();
    const { invoice } = await subscribe(u);
    const now = invoice.rate_locked_until.getTime() + 1000;

    await killInsideTheDm(['expire-invoices', String(now)], u);
    expect((await ctx.services.billing.invoice(invoice.id))?.status).toBe('EXPIRED');
    expect(await owed(u)).toEqual([expect.objectContaining({ key: `billing.invoice-expired:${invoice.id}`, sent_at: null, attempts: 1 })]);

    await endLeases();
    const after = restarted();
    expect(await deliverDms({ db: t.db, log: ctx.log, dms: after.port })).toMatchObject({ sent: 1 });
    expect(after.got).toEqual([`${u.discordId} ⌛ Invoice ${invoice.number} for **VIP** expired unpaid: its quoted amount ran out. Run \`/subscribe plan:vip\` for a new one.`]);
    expect(await deliverDms({ db: t.db, log: ctx.log, dms: after.port })).toMatchObject({ sent: 0 });
  });
});
