import { CompiledQuery, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../config';
import { UserError } from '../../errors';
import airdropExpiry from './airdrop-expiry.job';
import { JobRunner } from '../../jobs/job-runner';
import { createTestContext } from '../../testing/test-context';
import { createTestDatabase, type TestDatabase } from '../../testing/test-db';
import ledgerFold from './ledger-fold.job';
import { boardQuery, openEscrow, tip as tipRow } from './ledger.repository';
import { LedgerService, type Airdrop, type DiscordUserRef } from './ledger.service';

let t: TestDatabase;
let ledger: LedgerService;
let seq = 0;
const nextId = () => `9${String(Date.now()).slice(-9)}${String(++seq).padStart(6, '0')}`;
const user = (name: string): DiscordUserRef => ({ discordId: `5${String(++seq).padStart(17, '0')}`, username: name });
const admin = { discordId: '100000000000000001', username: 'ops' };
const SOL = 1_000_000_000n;

beforeAll(async () => {
  t = await createTestDatabase({ poolMax: 32 });
  ledger = new LedgerService(t.db, parseConfig({ TIP_CONFIRM_ABOVE: 'SOL:10,USDC:1000' }));
});
afterAll(() => t.drop());

async function fund(u: DiscordUserRef, amount: string, currency = 'SOL') {
  return ledger.adminCredit({ idempotencyKey: nextId(), user: u, amount, currency, actor: admin, reason: 'test funding' });
}

/** Everything a failed operation must leave untouched. */
async function snapshot() {
  const [balances, journal, tips, airdrops, claims] = await Promise.all([
    t.db.selectFrom('account_balances').select(['user_id', 'currency', 'amount']).orderBy('user_id').orderBy('currency').execute(),
    t.db.selectFrom('journal').select((eb) => eb.fn.countAll<bigint>().as('n')).executeTakeFirstOrThrow(),
    t.db.selectFrom('tips').select((eb) => eb.fn.countAll<bigint>().as('n')).executeTakeFirstOrThrow(),
    t.db.selectFrom('airdrops').selectAll().orderBy('id').execute(),
    t.db.selectFrom('airdrop_claims').select((eb) => eb.fn.countAll<bigint>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { balances, journal: journal.n, tips: tips.n, airdrops, claims: claims.n };
}

/** Per currency: sum of balances (unfolded credits included), escrow still held by open airdrops, and net external inflow (admin credits). */
async function totals(currency: string) {
  const { rows } = await sql<{ balances: bigint; escrow: bigint; revenue: bigint; inflow: bigint; negatives: bigint }>`
    select
      (select coalesce(sum(amount), 0) from account_balances where currency = ${currency}) as balances,
      (select coalesce(sum(remaining_amount), 0) from airdrops where currency = ${currency} and status = 'open') as escrow,
      -- Membership payments move money from balances to guild revenue (billing module): it stays owed, so it counts.
      (select coalesce(sum(amount), 0) from guild_revenue where currency = ${currency}) as revenue,
      (select coalesce(sum(amount), 0) from journal where currency = ${currency} and type = 'admin_credit') as inflow,
      (select count(*) from balances where amount < 0) as negatives`.execute(t.db);
  return rows[0]!;
}

/** Every balance (row + unfolded credits) equals what its journal entries say. */
async function journalMatchesBalances() {
  const { rows } = await sql<{ user_id: bigint; currency: string; amount: bigint; journal: bigint }>`
    with moves as (
      select to_user_id as user_id, currency, amount from journal where to_user_id is not null and status = 'completed'
      union all
      select from_user_id, currency, -amount from journal where from_user_id is not null and status = 'completed'
    )
    select b.user_id, b.currency, b.amount, coalesce((select sum(m.amount) from moves m where m.user_id = b.user_id and m.currency = b.currency), 0) as journal
    from account_balances b`.execute(t.db);
  return rows.filter((r) => r.amount !== r.journal);
}

/** A reproducible rand(n) in [0, n): the storms are the same every run. */
function seededRandom(seed: number): (n: number) => number {
  return (n) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
}

async function userError(p: Promise<unknown>): Promise<UserError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UserError);
  return err as UserError;
}

describe('tips', () => {
  it('moves funds, journals both sides and records the tip', async () => {
    const [alice, bob] = [user('alice'), user('bob')];
    await fund(alice, '5');
    const r = await ledger.tip({ interactionId: nextId(), sender: alice, receivers: [bob], amount: '1.25', note: ' thanks! ' });
    expect(r).toMatchObject({ replayed: false, each: 1_250_000_000n, total: 1_250_000_000n, senderBalance: 3_750_000_000n });
    expect(await ledger.balance(bob.discordId, 'SOL')).toBe(1_250_000_000n);
    const tip = await t.db.selectFrom('tips').selectAll().where('id', '=', r.tipIds[0]!).executeTakeFirstOrThrow();
    expect(tip).toMatchObject({ kind: 'tip', amount: 1_250_000_000n, currency: 'SOL', note: 'thanks!', leg: 0 });
    const balances = await ledger.balances(bob);
    expect(balances.map((b) => [b.currency.code, b.amount])).toEqual([['SOL', 1_250_000_000n], ['USDC', 0n]]);
    expect(await journalMatchesBalances()).toEqual([]);
  });

  it('a retried interaction id moves money once and returns the first result (sequential and concurrent)', async () => {
    const [alice, bob] = [user('alice'), user('bob')];
    await fund(alice, '10');
    const id = nextId();
    const first = await ledger.tip({ interactionId: id, sender: alice, receivers: [bob], amount: '1' });
    const again = await ledger.tip({ interactionId: id, sender: alice, receivers: [bob], amount: '1' });
    expect(again).toMatchObject({ replayed: true, tipIds: first.tipIds, each: SOL, senderBalance: 9n * SOL });

    const id2 = nextId();
    const storm = await Promise.all(Array.from({ length: 12 }, () => ledger.tip({ interactionId: id2, sender: alice, receivers: [bob], amount: '2' })));
    expect(storm.filter((r) => !r.replayed)).toHaveLength(1);
    expect(new Set(storm.map((r) => r.tipIds.join()))).toHaveProperty('size', 1);
    expect(await ledger.balance(alice.discordId, 'SOL')).toBe(7n * SOL);
    expect(await ledger.balance(bob.discordId, 'SOL')).toBe(3n * SOL);
    const n = await t.db.selectFrom('tips').select((eb) => eb.fn.countAll<bigint>().as('n')).where('interaction_id', 'in', [id, id2]).executeTakeFirstOrThrow();
    expect(n.n).toBe(2n);
  });

  it('splits a multi-recipient tip equally in one transaction; the remainder stays with the sender', async () => {
    const [alice, bob, carol, dave] = [user('alice'), user('bob'), user('carol'), user('dave')];
    await fund(alice, '1', 'USDC');
    // 1 USDC = 1_000_000 base units / 3 = 333_333 each, 1 unit left with alice. Duplicated mentions count once.
    const r = await ledger.tip({ interactionId: nextId(), sender: alice, receivers: [bob, carol, dave, bob], amount: '1', currency: 'usdc' });
    expect(r.each).toBe(333_333n);
    expect(r.total).toBe(999_999n);
    expect(r.senderBalance).toBe(1n);
    for (const u of [bob, carol, dave]) expect(await ledger.balance(u.discordId, 'USDC')).toBe(333_333n);
    expect(await journalMatchesBalances()).toEqual([]);
  });

  it('bad inputs fail with a clear UserError and change nothing', async () => {
    const [alice, bob] = [user('alice'), user('bob')];
    await fund(alice, '1');
    const before = await snapshot();
    const tip = (over: Partial<Parameters<LedgerService['tip']>[0]>) =>
      userError(ledger.tip({ interactionId: nextId(), sender: alice, receivers: [bob], amount: '0.5', ...over }));

    expect((await tip({ receivers: [alice] })).code).toBe('SELF_TIP');
    expect((await tip({ receivers: [{ ...bob, bot: true }] })).message).toBe('bob is a bot — bots cannot receive tips.');
    expect((await tip({ sender: { ...alice, bot: true } })).code).toBe('BOT_SENDER');
    expect((await tip({ receivers: [] })).code).toBe('NO_RECIPIENT');
    expect((await tip({ currency: 'DOGE' })).message).toBe('Unknown currency "DOGE". Available: SOL, USDC.');
    expect((await tip({ amount: '1e-9' })).code).toBe('INVALID_AMOUNT');
    expect((await tip({ amount: '0.0000000001' })).message).toBe('SOL has at most 9 decimals (got 10).');
    expect((await tip({ amount: '-1' })).message).toBe('The amount must be positive.');
    expect((await tip({ amount: '0' })).message).toBe('The amount must be greater than zero.');
    expect((await tip({ amount: 'NaN' })).code).toBe('INVALID_AMOUNT');
    expect((await tip({ amount: '' })).code).toBe('INVALID_AMOUNT');
    expect((await tip({ amount: '99999999999999999999999' })).message).toMatch(/too large/);
    expect((await tip({ amount: '1.5' })).message).toBe('Insufficient funds: this needs 1.5 SOL but you have 1 SOL.');
    expect((await tip({ currency: 'USDC' })).message).toBe('Insufficient funds: this needs 0.5 USDC but you have 0 USDC.');
    expect((await tip({ amount: '0.000000002', receivers: [bob, user('x'), user('y')] })).code).toBe('AMOUNT_TOO_SMALL');
    expect(await snapshot()).toEqual(before);
  });

  it('concurrent tip storm over 32 connections conserves every currency and never goes negative', async () => {
    const people = Array.from({ length: 8 }, (_, i) => user(`storm${i}`));
    for (const p of people) {
      await fund(p, '50');
      await fund(p, '500', 'USDC');
    }
    const before = { SOL: await totals('SOL'), USDC: await totals('USDC') };
    const rand = seededRandom(42);
    const jobs: Array<() => Promise<unknown>> = [];
    for (let i = 0; i < 400; i++) {
      const a = rand(people.length);
      let b = rand(people.length - 1);
      if (b >= a) b++;
      const currency = rand(2) === 0 ? 'SOL' : 'USDC';
      // Up to ~35% of a starting balance per tip, so insufficient funds happen regularly.
      const amount = currency === 'SOL' ? `${1 + rand(17)}.${rand(1000)}` : `${1 + rand(170)}.${rand(100)}`;
      jobs.push(() => ledger.tip({ interactionId: nextId(), sender: people[a]!, receivers: [people[b]!], amount, currency }));
      // Mirror pair fired at the same moment: the classic deadlock shape.
      if (i % 4 === 0) jobs.push(() => ledger.tip({ interactionId: nextId(), sender: people[b]!, receivers: [people[a]!], amount, currency }));
      if (i % 25 === 0) {
        const others = people.filter((_, k) => k !== a).slice(0, 3);
        jobs.push(() => ledger.tip({ interactionId: nextId(), sender: people[a]!, receivers: others, amount: '3', currency }));
      }
    }
    const results = await Promise.allSettled(jobs.map((j) => j()));
    const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    const unexpected = failures.filter((f) => !(f.reason instanceof UserError && f.reason.code === 'INSUFFICIENT_FUNDS'));
    expect(unexpected.map((f) => String(f.reason))).toEqual([]);
    expect(results.length - failures.length).toBeGreaterThan(100);
    // The amounts are chosen so the insufficient-funds path is exercised under contention too.
    expect(failures.length).toBeGreaterThan(0);

    for (const c of ['SOL', 'USDC'] as const) {
      const after = await totals(c);
      expect(after.negatives).toBe(0n);
      expect(after.balances).toBe(before[c].balances);
      expect(after.balances + after.escrow + after.revenue).toBe(after.inflow);
    }
    expect(await journalMatchesBalances()).toEqual([]);
  });
});

describe('confirmation of large tips', () => {
  it('above the threshold waits for Confirm; double confirm sends once; only the sender may act', async () => {
    const [alice, bob, mallory] = [user('alice'), user('bob'), user('mallory')];
    await fund(alice, '100');
    const small = await ledger.requestTip({ interactionId: nextId(), sender: alice, receivers: [bob], amount: '10' });
    expect(small.status).toBe('done');

    const id = nextId();
    const pending = await ledger.requestTip({ interactionId: id, sender: alice, receivers: [bob], amount: '10.5' });
    if (pending.status !== 'confirm') throw new Error('expected a confirmation');
    const retried = await ledger.requestTip({ interactionId: id, sender: alice, receivers: [bob], amount: '10.5' });
    expect(retried).toMatchObject({ status: 'confirm', confirmationId: pending.confirmationId });
    expect(await ledger.balance(bob.discordId, 'SOL')).toBe(10n * SOL);

    expect((await userError(ledger.confirmTip(pending.confirmationId, mallory))).code).toBe('NOT_YOUR_TIP');
    const [c1, c2] = await Promise.all([ledger.confirmTip(pending.confirmationId, alice), ledger.confirmTip(pending.confirmationId, alice)]);
    expect(c1.tipIds).toEqual(c2.tipIds);
    expect(await ledger.balance(bob.discordId, 'SOL')).toBe(20_500_000_000n);
    expect((await userError(ledger.cancelTip(pending.confirmationId, alice))).code).toBe('TIP_ALREADY_SENT');

    const other = await ledger.requestTip({ interactionId: nextId(), sender: alice, receivers: [bob], amount: '50' });
    if (other.status !== 'confirm') throw new Error('expected a confirmation');
    await ledger.cancelTip(other.confirmationId, alice);
    expect((await userError(ledger.confirmTip(other.confirmationId, alice))).code).toBe('TIP_CANCELED');
    expect(await ledger.balance(bob.discordId, 'SOL')).toBe(20_500_000_000n);
  });

  it('a member can set their own threshold per currency, overriding the default', async () => {
    const [alice, bob] = [user('alice'), user('bob')];
    await fund(alice, '50');
    await fund(alice, '50', 'USDC');
    expect(await ledger.confirmThreshold(alice.discordId, 'SOL')).toBe(10n * SOL);
    await ledger.setConfirmThreshold(alice, '1.5');
    expect((await ledger.requestTip({ interactionId: nextId(), sender: alice, receivers: [bob], amount: '1.5' })).status).toBe('done');
    expect((await ledger.requestTip({ interactionId: nextId(), sender: alice, receivers: [bob], amount: '1.6' })).status).toBe('confirm');
    // Other currencies keep the default.
    expect((await ledger.requestTip({ interactionId: nextId(), sender: alice, receivers: [bob], amount: '5', currency: 'USDC' })).status).toBe('done');
    await ledger.setConfirmThreshold(alice, '0', 'usdc');
    expect((await ledger.requestTip({ interactionId: nextId(), sender: alice, receivers: [bob], amount: '0.01', currency: 'USDC' })).status).toBe('confirm');
    expect((await userError(ledger.setConfirmThreshold(alice, '-3'))).code).toBe('INVALID_AMOUNT');
    expect(await ledger.confirmThreshold(alice.discordId, 'SOL')).toBe(1_500_000_000n);
  });

  it('the checks before a tip: a repeat is the same receivers and per-receiver amount only; recordActivity marks the sender active, refused or not', async () => {
    const guild = '700000000000000077';
    const [ann, bo, cy, newcomer, dee] = ['ann', 'bo', 'cy', 'newcomer', 'dee'].map(user) as [DiscordUserRef, DiscordUserRef, DiscordUserRef, DiscordUserRef, DiscordUserRef];
    const activeAt = async (u: DiscordUserRef) =>
      (
        await t.db
          .selectFrom('member_activity as a')
          .innerJoin('users as u', 'u.id', 'a.user_id')
          .select('a.last_active_at')
          .where('a.guild_id', '=', guild)
          .where('u.discord_id', '=', u.discordId)
          .executeTakeFirst()
      )?.last_active_at;
    const ask = (sender: DiscordUserRef, receivers: DiscordUserRef[], amount: string) =>
      ledger.requestTip({ interactionId: nextId(), sender, receivers, amount, guildId: guild, recordActivity: true });

    // A member the ledger has never seen: refused for funds, but active (the user row is created for it).
    expect((await userError(ask(newcomer, [bo], '1'))).code).toBe('INSUFFICIENT_FUNDS');
    expect(await activeAt(newcomer)).toBeInstanceOf(Date);
    // Refused before any database work (a bad amount): still active.
    expect((await userError(ask(dee, [bo], 'lots'))).code).toBe('INVALID_AMOUNT');
    expect(await activeAt(dee)).toBeInstanceOf(Date);

    await fund(ann, '10');
    expect((await ask(ann, [bo, cy], '1')).status).toBe('done');
    // Same per-receiver amount to a subset, or another amount to the same two: not a repeat.
    expect((await ask(ann, [bo], '0.5')).status).toBe('done');
    expect((await ask(ann, [bo, cy], '1.2')).status).toBe('done');
    // The same receivers (in any order) and amount: asked, stating when the first one was applied.
    const again = await ask(ann, [cy, bo], '1');
    if (again.status !== 'confirm') throw new Error('expected a confirmation');
    expect(again.repeatOf).toBeInstanceOf(Date);
    // Without recordActivity (or outside a guild) nobody is marked; with it, at most one write a minute.
    const first = await activeAt(ann);
    expect(first).toBeInstanceOf(Date);
    expect((await ask(ann, [cy], '0.3')).status).toBe('done');
    expect(await activeAt(ann)).toEqual(first);
    await t.db.updateTable('member_activity').set({ last_active_at: sql`now() - interval '2 minutes'` }).where('guild_id', '=', guild).execute();
    const stale = await activeAt(ann);
    await ledger.requestTip({ interactionId: nextId(), sender: ann, receivers: [cy], amount: '0.4', guildId: guild });
    expect(await activeAt(ann)).toEqual(stale);
    expect((await ask(ann, [cy], '0.5')).status).toBe('done');
    expect((await activeAt(ann))!.getTime()).toBeGreaterThan(stale!.getTime());
  });

  it('refuses to ask for a confirmation it cannot pay; a confirm that became unpayable stays pending', async () => {
    const [alice, bob, carol] = [user('alice'), user('bob'), user('carol')];
    await fund(alice, '5');
    const before = await snapshot();
    const refused = await userError(ledger.requestTip({ interactionId: nextId(), sender: alice, receivers: [bob], amount: '20' }));
    expect(refused.message).toBe('Insufficient funds: this needs 20 SOL but you have 5 SOL.');
    expect(await snapshot()).toEqual(before);

    await fund(alice, '15');
    const pending = await ledger.requestTip({ interactionId: nextId(), sender: alice, receivers: [bob], amount: '20' });
    if (pending.status !== 'confirm') throw new Error('expected a confirmation');
    // Spent elsewhere between the prompt and the click.
    await ledger.tip({ interactionId: nextId(), sender: alice, receivers: [carol], amount: '1' });
    expect((await userError(ledger.confirmTip(pending.confirmationId, alice))).code).toBe('INSUFFICIENT_FUNDS');
    await fund(alice, '1');
    const r = await ledger.confirmTip(pending.confirmationId, alice);
    expect(r.senderBalance).toBe(0n);
  });
});

describe('admin credit', () => {
  it('is idempotent on its key and journalled as admin_credit', async () => {
    const u = user('funded');
    const key = nextId();
    const a = await ledger.adminCredit({ idempotencyKey: key, user: u, amount: '2', actor: admin, reason: 'sandbox' });
    const b = await ledger.adminCredit({ idempotencyKey: key, user: u, amount: '2', actor: admin, reason: 'sandbox' });
    expect(a).toMatchObject({ replayed: false, balance: 2n * SOL });
    expect(b).toMatchObject({ replayed: true, balance: 2n * SOL });
    const rows = await t.db.selectFrom('journal').selectAll().where('idempotency_key', '=', `admin_credit:${key}`).execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ type: 'admin_credit', from_user_id: null, ref: `by ${admin.discordId}: sandbox` });
  });
});

describe('airdrops', () => {
  it('escrow is conserved through concurrent claims and expiry', async () => {
    const creator = user('dropper');
    await fund(creator, '10');
    const before = await totals('SOL');
    const id = nextId();
    // 1 SOL over 3 claims: 333333333 each, 1 lamport never leaves the creator.
    const { airdrop } = await ledger.createAirdrop({ interactionId: id, creator, amount: '1', claims: 3, durationSeconds: 60, guildId: null, channelId: null });
    expect(airdrop).toMatchObject({ per_claim_amount: 333_333_333n, total_amount: 999_999_999n, status: 'open' });
    expect(await ledger.balance(creator.discordId, 'SOL')).toBe(10n * SOL - 999_999_999n);
    const replay = await ledger.createAirdrop({ interactionId: id, creator, amount: '1', claims: 3, durationSeconds: 60, guildId: null, channelId: null });
    expect(replay).toMatchObject({ replayed: true, airdrop: { id: airdrop.id } });

    const claimer = user('claimer0');
    await ledger.claimAirdrop(airdrop.id, claimer);
    expect((await userError(ledger.claimAirdrop(airdrop.id, claimer))).code).toBe('ALREADY_CLAIMED');
    expect((await userError(ledger.claimAirdrop(airdrop.id, creator))).code).toBe('OWN_AIRDROP');
    expect((await userError(ledger.claimAirdrop(airdrop.id, { ...user('botty'), bot: true }))).code).toBe('BOT_RECEIVER');
    expect((await totals('SOL')).balances + (await totals('SOL')).escrow).toBe(before.balances);

    // A second drop that expires half-claimed; many race for the first drop's last 2 slots.
    const other = await ledger.createAirdrop({ interactionId: nextId(), creator, amount: '2', claims: 4, durationSeconds: 60, guildId: null, channelId: null });
    const racers = Array.from({ length: 10 }, (_, i) => user(`racer${i}`));
    const raced = await Promise.allSettled(racers.map((r) => ledger.claimAirdrop(airdrop.id, r)));
    expect(raced.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
    const losers = raced.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(new Set(losers.map((l) => (l.reason as UserError).code))).toEqual(new Set(['AIRDROP_EMPTY']));
    expect((await ledger.getAirdrop(airdrop.id))?.status).toBe('completed');
    await ledger.claimAirdrop(other.airdrop.id, racers[0]!);

    const mid = await totals('SOL');
    expect(mid.balances + mid.escrow).toBe(before.balances);
    expect(mid.escrow).toBe(3n * 500_000_000n);
    expect((await openEscrow(t.db)).get('SOL')).toBe(mid.escrow);

    await t.db.updateTable('airdrops').set({ expires_at: new Date(Date.now() - 1000) }).where('id', '=', other.airdrop.id).execute();
    expect((await userError(ledger.claimAirdrop(other.airdrop.id, racers[1]!))).code).toBe('AIRDROP_EXPIRED');
    // Through the scheduled job, as production runs it (advisory lock and all).
    const runner = new JobRunner(createTestContext(t), [airdropExpiry]);
    expect(await runner.runNow('airdrop-expiry')).toMatchObject({ status: 'ok', result: { expired: 1, notUpdated: 0 } });
    expect(await ledger.expireAirdrops()).toEqual([]);
    const after = await totals('SOL');
    expect(after.escrow).toBe(0n);
    expect(after.balances).toBe(before.balances);
    expect(await ledger.balance(creator.discordId, 'SOL')).toBe(10n * SOL - 999_999_999n - 500_000_000n);
    expect((await ledger.getAirdrop(other.airdrop.id))?.status).toBe('expired');
    expect(await journalMatchesBalances()).toEqual([]);
  });

  it('rejects bad airdrops without changing anything', async () => {
    const creator = user('poor');
    await fund(creator, '1');
    const before = await snapshot();
    const create = (over: Record<string, unknown>) =>
      userError(ledger.createAirdrop({ interactionId: nextId(), creator, amount: '0.5', claims: 2, durationSeconds: 60, guildId: null, channelId: null, ...over }));
    expect((await create({ amount: '2' })).code).toBe('INSUFFICIENT_FUNDS');
    expect((await create({ claims: 0 })).code).toBe('INVALID_CLAIMS');
    expect((await create({ claims: 1.5 })).code).toBe('INVALID_CLAIMS');
    expect((await create({ durationSeconds: 1 })).code).toBe('INVALID_DURATION');
    expect((await create({ amount: '0.000000001', claims: 2 })).code).toBe('AMOUNT_TOO_SMALL');
    expect((await create({ amount: 'lots' })).code).toBe('INVALID_AMOUNT');
    expect(await snapshot()).toEqual(before);
  });
});

describe('rain, history and leaderboard', () => {
  it('rain splits among the most recently active members of the guild, never the sender', async () => {
    const guild = '700000000000000001';
    const [rainer, a, b, c, elsewhere] = ['rainer', 'a', 'b', 'c', 'elsewhere'].map(user) as [DiscordUserRef, DiscordUserRef, DiscordUserRef, DiscordUserRef, DiscordUserRef];
    await fund(rainer, '3');
    for (const u of [a, b, c, rainer]) await ledger.touchActivity(guild, u);
    await ledger.touchActivity('700000000000000002', elsewhere);
    // Order of recency: c newest, then b (rainer excluded).
    await t.db.updateTable('member_activity').set({ last_active_at: sql`now() - interval '1 hour'` }).where('guild_id', '=', guild).execute();
    await t.db
      .updateTable('member_activity')
      .set({ last_active_at: sql`now() - interval '1 minute'` })
      .where('user_id', 'in', t.db.selectFrom('users').select('id').where('discord_id', 'in', [b.discordId, c.discordId]))
      .execute();
    const r = await ledger.rain({ interactionId: nextId(), guildId: guild, sender: rainer, amount: '2', count: 2 });
    expect(r.receivers.map((x) => x.username).sort()).toEqual(['b', 'c']);
    expect(r.each).toBe(SOL);
    expect((await t.db.selectFrom('journal').select('type').where('type', '=', 'rain').execute()).length).toBe(2);
    expect((await userError(ledger.rain({ interactionId: nextId(), guildId: '700000000000000009', sender: rainer, amount: '1', count: 2 }))).code).toBe('NOBODY_ACTIVE');
    expect((await userError(ledger.rain({ interactionId: nextId(), guildId: guild, sender: rainer, amount: '1', count: 0 }))).code).toBe('INVALID_COUNT');
  });

  it('history pages newest first; leaderboard ranks senders per period', async () => {
    const [alice, bob] = [user('hist-alice'), user('hist-bob')];
    await fund(alice, '100', 'USDC');
    for (let i = 1; i <= 12; i++) await ledger.tip({ interactionId: nextId(), sender: alice, receivers: [bob], amount: String(i), currency: 'USDC' });
    const p1 = await ledger.history(alice, 1);
    expect(p1).toMatchObject({ page: 1, pages: 2, total: 13 });
    expect(p1.entries.map((e) => e.amount)).toEqual([12, 11, 10, 9, 8, 7, 6, 5, 4, 3].map((n) => BigInt(n) * 1_000_000n));
    expect(p1.entries[0]).toMatchObject({ type: 'tip', direction: 'out', counterparty: bob.discordId });
    const p2 = await ledger.history(alice, 99);
    expect(p2.page).toBe(2);
    expect(p2.entries.map((e) => e.type)).toEqual(['tip', 'tip', 'admin_credit']);
    expect((await ledger.history(bob, 1)).entries[0]).toMatchObject({ direction: 'in', counterparty: alice.discordId });
    expect(await ledger.history(user('nobody'), 1)).toEqual({ entries: [], page: 1, pages: 1, total: 0 });

    const board = await ledger.leaderboard('USDC', 'day');
    const mine = board.rows.find((r) => r.discordId === alice.discordId);
    expect(mine).toEqual({ discordId: alice.discordId, username: 'hist-alice', total: 78_000_000n, tips: 12 });
    expect(board.rows.map((r) => r.total)).toEqual([...board.rows.map((r) => r.total)].sort((x, y) => (x > y ? -1 : x < y ? 1 : 0)));
  });
});

describe('history keyset pages', () => {
  it('Next/Prev cursors walk every entry once in order; a bare page number jumps', async () => {
    const [carl, dana] = [user('ks-carl'), user('ks-dana')];
    await fund(carl, '1000', 'USDC');
    for (let i = 1; i <= 34; i++) {
      if (i % 3 === 0) await ledger.tip({ interactionId: nextId(), sender: dana, receivers: [carl], amount: '1', currency: 'USDC' }).catch(() => undefined);
      await ledger.tip({ interactionId: nextId(), sender: carl, receivers: [dana], amount: String(i), currency: 'USDC' });
    }
    // 1 funding + 34 out + the incoming ones dana could pay for: in and out legs interleave.
    const all = (await ledger.history(carl, 1)).total;
    expect(all).toBeGreaterThan(36);
    const seen: bigint[] = [];
    let page = await ledger.history(carl, 1);
    const pages = [page];
    while (page.more) {
      page = await ledger.history(carl, page.page + 1, { before: page.entries.at(-1)!.id });
      pages.push(page);
    }
    for (const p of pages) seen.push(...p.entries.map((e) => e.id));
    expect(seen).toHaveLength(all);
    expect(seen).toEqual([...seen].sort((a, b) => (a > b ? -1 : 1)));
    expect(pages.map((p) => p.page)).toEqual(Array.from({ length: Math.ceil(all / 10) }, (_, i) => i + 1));
    expect(pages.at(-1)!.entries.at(-1)!.type).toBe('admin_credit');
    // Prev from page 3 is page 2 again; a bare page 3 is the same page as walking there.
    const back = await ledger.history(carl, 2, { after: pages[2]!.entries[0]!.id });
    expect(back.entries.map((e) => e.id)).toEqual(pages[1]!.entries.map((e) => e.id));
    expect(back.more).toBe(true);
    expect((await ledger.history(carl, 3)).entries.map((e) => e.id)).toEqual(pages[2]!.entries.map((e) => e.id));
    expect((await ledger.history(carl, 999)).entries.map((e) => e.id)).toEqual(pages.at(-1)!.entries.map((e) => e.id));
  });
});

describe('per-guild leaderboard', () => {
  const [g1, g2] = ['710000000000000001', '710000000000000002'];

  it('ranks only the tips and rain sent in the guild; DMs and the bot-wide board see everything', async () => {
    const [ann, ben, cat, rx] = ['g-ann', 'g-ben', 'g-cat', 'g-rx'].map(user) as [DiscordUserRef, DiscordUserRef, DiscordUserRef, DiscordUserRef];
    for (const u of [ann, ben, cat]) await fund(u, '100', 'USDC');
    await ledger.tip({ interactionId: nextId(), sender: ann, receivers: [rx], amount: '5', currency: 'USDC', guildId: g1 });
    await ledger.tip({ interactionId: nextId(), sender: ben, receivers: [rx], amount: '7', currency: 'USDC', guildId: g2 });
    await ledger.tip({ interactionId: nextId(), sender: cat, receivers: [rx], amount: '9', currency: 'USDC' });
    // A large tip goes through confirmation: the stored request keeps its guild.
    await ledger.setConfirmThreshold(ben, '1', 'USDC');
    const pending = await ledger.requestTip({ interactionId: nextId(), sender: ben, receivers: [rx], amount: '2', currency: 'USDC', guildId: g1 });
    expect(pending.status).toBe('confirm');
    if (pending.status === 'confirm') await ledger.confirmTip(pending.confirmationId, ben);
    // Rain records the guild it fell in.
    await ledger.touchActivity(g2, rx);
    await ledger.rain({ interactionId: nextId(), guildId: g2, sender: ann, amount: '3', currency: 'USDC', count: 1 });

    const rows = async (guildId: string | null) =>
      (await ledger.leaderboard('USDC', 'day', guildId, 100)).rows.filter((r) => [ann, ben, cat].some((u) => u.discordId === r.discordId)).map((r) => [r.username, r.total, r.tips]);
    expect(await rows(g1)).toEqual([
      ['g-ann', 5_000_000n, 1],
      ['g-ben', 2_000_000n, 1],
    ]);
    expect(await rows(g2)).toEqual([
      ['g-ben', 7_000_000n, 1],
      ['g-ann', 3_000_000n, 1],
    ]);
    expect(await ledger.leaderboard('USDC', 'all', '710000000000000009')).toMatchObject({ guildId: '710000000000000009', rows: [] });
    expect(await rows(null)).toEqual([
      // A tie is broken by discord id (ben's is lower).
      ['g-ben', 9_000_000n, 2],
      ['g-cat', 9_000_000n, 1],
      ['g-ann', 8_000_000n, 2],
    ]);
    const kinds = await t.db
      .selectFrom('tips')
      .select(['kind', 'guild_id'])
      .where('receiver_id', '=', t.db.selectFrom('users').select('id').where('discord_id', '=', rx.discordId))
      .orderBy('id')
      .execute();
    expect(kinds).toEqual([
      { kind: 'tip', guild_id: g1 },
      { kind: 'tip', guild_id: g2 },
      { kind: 'tip', guild_id: null },
      { kind: 'tip', guild_id: g1 },
      { kind: 'rain', guild_id: g2 },
    ]);
  });

  it('ledger_tip() still takes the 9 arguments of code deployed before the guild column', async () => {
    const [a, b] = [user('old-a'), user('old-b')];
    await fund(a, '1');
    const interaction = nextId();
    const { rows } = await sql<{ replayed: boolean; each_amount: bigint }>`
      select * from ledger_tip(${interaction}, 'tip', 'SOL', 1000::numeric, null, ${a.discordId}, 'old-a', ${[b.discordId]}::text[], ${['old-b']}::text[])`.execute(t.db);
    expect(rows[0]).toMatchObject({ replayed: false, each_amount: 1000n });
    const tip = await t.db.selectFrom('tips').select(['guild_id', 'amount']).where('interaction_id', '=', interaction).executeTakeFirstOrThrow();
    expect(tip).toEqual({ guild_id: null, amount: 1000n });
  });

  it('the per-guild board is served by the rollup and the journal BRIN tail, not by scanning the journal', async () => {
    const state = await sql<{ until: string; window: string }>`
      select folded_until::text as until, window_day::text as window from tip_totals_rollup_state`.execute(t.db);
    const today = new Date().toISOString().slice(0, 10);
    for (const period of ['week', 'all'] as const) {
      const compiled = boardQuery('USDC', period, g1, 10, today, { ...state.rows[0]!, window: today }).compile(t.db);
      const plan = await t.db.transaction().execute(async (trx) => {
        // The test table is tiny, so forbid the sequential scan the planner would rightly prefer here.
        await sql`set local enable_seqscan = off`.execute(trx);
        const r = await trx.executeQuery<{ 'QUERY PLAN': string }>(CompiledQuery.raw(`explain ${compiled.sql}`, [...compiled.parameters]));
        return r.rows.map((row) => row['QUERY PLAN']).join('\n');
      });
      expect(plan).toMatch(/Index Scan using tip_totals_rollup_\w+ on tip_totals_rollup/);
      expect(plan).toContain('Bitmap Index Scan on journal_created_brin');
      expect(plan).not.toMatch(/Seq Scan on journal|on tip_totals_daily/);
    }
  });
});

describe('airdrop-expiry job', () => {
  it('tells Discord about each closed airdrop after the commit; a failure is logged and changes nothing else', async () => {
    const creator = user('exp-creator');
    await fund(creator, '5');
    const drops: Airdrop[] = [];
    for (let i = 0; i < 2; i++) {
      drops.push((await ledger.createAirdrop({ interactionId: nextId(), creator, amount: '1', claims: 2, durationSeconds: 60, guildId: null, channelId: null })).airdrop);
    }
    await ledger.claimAirdrop(drops[0]!.id, user('exp-claimer'));
    await t.db.updateTable('airdrops').set({ expires_at: new Date(Date.now() - 1000) }).where('id', 'in', drops.map((d) => d.id)).execute();

    const seen: Array<{ id: bigint; status: string; claims: number; committed: string | undefined }> = [];
    const ctx = createTestContext(t, {}, {
      airdrops: {
        async airdropClosed(a: Airdrop) {
          // Called after the commit: another connection already sees the airdrop closed.
          const committed = (await t.db.selectFrom('airdrops').select('status').where('id', '=', a.id).executeTakeFirst())?.status;
          seen.push({ id: a.id, status: a.status, claims: a.claims_made, committed });
          if (a.id === drops[1]!.id) throw new Error('Unknown Message');
        },
      },
    });
    const runner = new JobRunner(ctx, [airdropExpiry]);
    expect(await runner.runNow('airdrop-expiry')).toMatchObject({ status: 'ok', result: { expired: 2, notUpdated: 1 } });
    expect(seen).toEqual([
      { id: drops[0]!.id, status: 'expired', claims: 1, committed: 'expired' },
      { id: drops[1]!.id, status: 'expired', claims: 0, committed: 'expired' },
    ]);
    expect(await ledger.balance(creator.discordId, 'SOL')).toBe(5n * SOL - SOL / 2n);
    const refunds = await t.db.selectFrom('journal').select(['ref', 'amount']).where('type', '=', 'airdrop_refund').where('ref', 'in', drops.map((d) => `airdrop:${d.id}`)).orderBy('ref').execute();
    expect(refunds).toEqual(
      [
        { ref: `airdrop:${drops[0]!.id}`, amount: SOL / 2n },
        { ref: `airdrop:${drops[1]!.id}`, amount: SOL },
      ].sort((x, y) => (x.ref < y.ref ? -1 : 1)),
    );
    expect(await journalMatchesBalances()).toEqual([]);
  });

  it('deletes tip confirmations expired for more than a day, in batches, and keeps the recent ones', async () => {
    const [s1, r1] = [user('conf-s'), user('conf-r')];
    await fund(s1, '100');
    const ids: bigint[] = [];
    for (let i = 0; i < 4; i++) {
      const o = await ledger.requestTip({ interactionId: nextId(), sender: s1, receivers: [r1], amount: '20' });
      if (o.status !== 'confirm') throw new Error('expected a confirmation');
      ids.push(o.confirmationId);
    }
    await ledger.cancelTip(ids[0]!, s1);
    await ledger.confirmTip(ids[1]!, s1);
    const ago = (interval: string) => sql<Date>`now() - ${interval}::interval`;
    await t.db.updateTable('tip_confirmations').set({ expires_at: ago('2 days') }).where('id', 'in', [ids[0]!, ids[1]!, ids[2]!]).execute();
    // Expired, but less than a day ago: kept.
    await t.db.updateTable('tip_confirmations').set({ expires_at: ago('23 hours') }).where('id', '=', ids[3]!).execute();
    const before = await snapshot();

    const runner = new JobRunner(createTestContext(t), [airdropExpiry]);
    expect(await runner.runNow('airdrop-expiry')).toMatchObject({ status: 'ok', result: { confirmationsDeleted: 3 } });
    const left = await t.db.selectFrom('tip_confirmations').select('id').where('id', 'in', ids).execute();
    expect(left.map((r) => r.id)).toEqual([ids[3]!]);
    // Only confirmations go: the confirmed tip's money, journal and tip rows stay.
    expect(await snapshot()).toEqual(before);
    expect(await ledger.cleanupConfirmations()).toBe(0);
    expect((await userError(ledger.confirmTip(ids[2]!, s1))).code).toBe('CONFIRMATION_NOT_FOUND');
  });
});

/** Holds `u`'s balance row lock from another transaction (as a tip in flight to a hot receiver does) until released. */
async function holdBalanceRow(u: DiscordUserRef, currency = 'SOL'): Promise<() => Promise<void>> {
  let release!: () => void;
  let locked!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const isLocked = new Promise<void>((r) => (locked = r));
  const done = t.db.transaction().execute(async (trx) => {
    const { rows } = await sql`
      select 1 from balances b join users u on u.id = b.user_id
      where u.discord_id = ${u.discordId} and b.currency = ${currency} for update of b`.execute(trx);
    expect(rows).toHaveLength(1);
    locked();
    await released;
  });
  await isLocked;
  return async () => {
    release();
    await done;
  };
}

const unfoldedOf = async (u: DiscordUserRef) =>
  Number(
    (
      await t.db
        .selectFrom('balance_credits as c')
        .innerJoin('users as u', 'u.id', 'c.user_id')
        .select((eb) => eb.fn.countAll<bigint>().as('n'))
        .where('u.discord_id', '=', u.discordId)
        .executeTakeFirstOrThrow()
    ).n,
  );

describe('hot receiver: credits take no lock on the receiver', () => {
  it('tips to a receiver whose row is locked complete at once as unfolded credits; its next debit folds them', async () => {
    const [alice, hot, bob] = [user('hr-alice'), user('hr-hot'), user('hr-bob')];
    await fund(alice, '10');
    await fund(hot, '1');
    const release = await holdBalanceRow(hot);
    // These would wait for the lock if a credit needed the receiver's row; the test times out if they do.
    for (let i = 0; i < 5; i++) await ledger.tip({ interactionId: nextId(), sender: alice, receivers: [hot], amount: '1' });
    expect(await unfoldedOf(hot)).toBe(5);
    expect(await ledger.balance(hot.discordId, 'SOL')).toBe(6n * SOL);
    expect((await ledger.balances(hot)).find((b) => b.currency.code === 'SOL')?.amount).toBe(6n * SOL);
    expect(await journalMatchesBalances()).toEqual([]);
    await release();

    // Only 1 SOL is in hot's row: 5.5 is payable only by folding the credits, which the debit does under its lock.
    const out = await ledger.tip({ interactionId: nextId(), sender: hot, receivers: [bob], amount: '5.5' });
    expect(out.senderBalance).toBe(SOL / 2n);
    expect(await unfoldedOf(hot)).toBe(0);
    const row = await t.db
      .selectFrom('balances as b')
      .innerJoin('users as u', 'u.id', 'b.user_id')
      .select('b.amount')
      .where('u.discord_id', '=', hot.discordId)
      .where('b.currency', '=', 'SOL')
      .executeTakeFirstOrThrow();
    expect(row.amount).toBe(SOL / 2n);
    // Debits stay strictly checked against row + credits.
    const err = await userError(ledger.tip({ interactionId: nextId(), sender: hot, receivers: [bob], amount: '1' }));
    expect(err.message).toBe('Insufficient funds: this needs 1 SOL but you have 0.5 SOL.');
    expect(await journalMatchesBalances()).toEqual([]);
  });

  it('a receiver with no balance row yet is credited unfolded and can spend it (its first debit creates the row)', async () => {
    const [alice, fresh, bob] = [user('hr-a2'), user('hr-fresh'), user('hr-b2')];
    await fund(alice, '3');
    await ledger.tip({ interactionId: nextId(), sender: alice, receivers: [fresh], amount: '2' });
    expect(await unfoldedOf(fresh)).toBe(1);
    expect(await ledger.balance(fresh.discordId, 'SOL')).toBe(2n * SOL);
    const r = await ledger.tip({ interactionId: nextId(), sender: fresh, receivers: [bob], amount: '1.5' });
    expect(r.senderBalance).toBe(SOL / 2n);
    expect(await unfoldedOf(fresh)).toBe(0);
    expect(await journalMatchesBalances()).toEqual([]);
  });

  it('folds each credit exactly once whatever the commit order (an earlier journal id committing after a fold)', async () => {
    const [s1, s2, hot] = [user('eo-s1'), user('eo-s2'), user('eo-hot')];
    await fund(s1, '10');
    await fund(s2, '10');
    await fund(hot, '1');
    const release = await holdBalanceRow(hot);
    // s1's tip gets the smaller journal id but stays uncommitted across a fold.
    let commitLate!: () => void;
    const late = new Promise<void>((r) => (commitLate = r));
    let appended!: () => void;
    const isAppended = new Promise<void>((r) => (appended = r));
    const lateTip = t.db.transaction().execute(async (trx) => {
      const row = await tipRow(trx, { interactionId: nextId(), kind: 'tip', currency: 'SOL', each: 2n * SOL, note: null, sender: s1, receivers: [hot], guildId: null });
      appended();
      await late;
      return row;
    });
    await isAppended;
    await ledger.tip({ interactionId: nextId(), sender: s2, receivers: [hot], amount: '3' });
    await release();
    await ledger.tip({ interactionId: nextId(), sender: s2, receivers: [hot], amount: '1' });

    // The fold sees only committed credits: s1's is invisible to it and stays in place.
    expect(await ledger.foldCredits()).toBeGreaterThanOrEqual(1);
    expect(await ledger.balance(hot.discordId, 'SOL')).toBe(5n * SOL);
    commitLate();
    const first = await lateTip;
    expect(await ledger.balance(hot.discordId, 'SOL')).toBe(7n * SOL);
    expect(await unfoldedOf(hot)).toBe(1);
    expect(await ledger.foldCredits()).toBeGreaterThanOrEqual(1);
    expect(await unfoldedOf(hot)).toBe(0);
    expect(await ledger.balance(hot.discordId, 'SOL')).toBe(7n * SOL);
    // The late credit's tip really has the smaller id: an id watermark would have skipped it.
    const legs = await t.db.selectFrom('tips').select('id').where('receiver_id', '=', BigInt(first.receiver_ids[0]!)).orderBy('id').execute();
    expect(legs.map((l) => String(l.id))).toEqual([String(first.tip_ids[0]), expect.any(String), expect.any(String)]);
    expect(await journalMatchesBalances()).toEqual([]);
  });

  it('a storm into one receiver, its own debits and concurrent folds conserve every unit; the fold job empties the credits', async () => {
    const people = Array.from({ length: 12 }, (_, i) => user(`hs${i}`));
    const hot = user('hs-hot');
    for (const p of people) await fund(p, '20');
    await fund(hot, '5');
    const before = await totals('SOL');
    const rand = seededRandom(7);
    const jobs: Array<() => Promise<unknown>> = [];
    for (let i = 0; i < 240; i++) {
      jobs.push(() => ledger.tip({ interactionId: nextId(), sender: people[rand(people.length)]!, receivers: [hot], amount: `0.${1 + rand(9)}` }));
      // The hot receiver spends what it receives: debits that must fold to pass, some too large on purpose.
      if (i % 6 === 0) jobs.push(() => ledger.tip({ interactionId: nextId(), sender: hot, receivers: [people[rand(people.length)]!], amount: `${1 + rand(4)}` }));
      if (i % 30 === 0) jobs.push(() => ledger.foldCredits());
    }
    const results = await Promise.allSettled(jobs.map((j) => j()));
    const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(failures.filter((f) => !(f.reason instanceof UserError && f.reason.code === 'INSUFFICIENT_FUNDS')).map((f) => String(f.reason))).toEqual([]);
    const after = await totals('SOL');
    expect(after.negatives).toBe(0n);
    expect(after.balances).toBe(before.balances);
    expect(await journalMatchesBalances()).toEqual([]);

    const runner = new JobRunner(createTestContext(t), [ledgerFold]);
    expect(await runner.runNow('ledger-fold')).toMatchObject({ status: 'ok' });
    expect(await t.db.selectFrom('balance_credits').select('user_id').execute()).toEqual([]);
    expect((await totals('SOL')).balances).toBe(before.balances);
    expect(await journalMatchesBalances()).toEqual([]);
  });
});
