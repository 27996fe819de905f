import { fileURLToPath } from 'node:url';
import { Keypair, SystemProgram } from '@solana/web3.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { LockNamespace } from '../../db/advisory-lock';
import type { CrashWorker } from '../../testing/crash-harness';
import { createTestContext } from '../../testing/test-context';
import type { DiscordUserRef } from '../ledger/ledger.service';
import { rpcRaw as rawCall, signatureStatus, useChainCrashWorld, type ChainCrashWorld } from './testing/chain-crash-world';
import type { Withdrawal } from './withdrawals.service';

/*
 * "A restart in any state ends with exactly one payout or a refund", with real process deaths: a worker process
 * (testing/withdrawal-worker.ts: config + createServices as the app builds them, running the processor job in a
 * loop) is SIGKILLed once the withdrawal row shows the state under test and the worker is provably stuck in the
 * next step — held in an RPC call by a loopback gate between it and the emulator, or parked by an emulator fault.
 * Then a freshly built set of services runs the processor to completion and the chain and the ledger are checked.
 */

const WORKER = fileURLToPath(new URL('./testing/withdrawal-worker.ts', import.meta.url));
const SOL = 1_000_000_000n;

// Workers boot while the previous test runs (booting dominates this file's time): the spare survives each test.
const world = useChainCrashWorld({
  worker: WORKER,
  keepSpare: true,
  env: async ({ t, emu, treasurySecret }) => ({
    LOG_LEVEL: 'silent',
    DATABASE_URL: t.url,
    SOLANA_RPC_URL: emu.rpcUrl,
    SOLANA_WS_URL: emu.wsUrl,
    TREASURY_SECRET_KEY: treasurySecret,
    LEDGER_TOKENS: `USDC:${(await emu.createMint(6)).toBase58()}:6`,
    WITHDRAW_MAX_ATTEMPTS: '2',
  }),
});
const crash = world.crash;
const until = crash.until.bind(crash);
// The world's parts under short names, bound once its beforeAll has built them.
let { t, emu, gate, ctx, factory, env } = {} as ChainCrashWorld;
let treasuryKey: Keypair;
let worker: CrashWorker | undefined;
beforeAll(() => {
  ({ t, emu, gate, ctx, factory, env } = world);
  treasuryKey = Keypair.fromSecretKey(Uint8Array.from(JSON.parse(world.treasurySecret) as number[]));
});

// ------------------------------------------------------------------------------------------ the worker process

/** A started worker; the next one boots meanwhile (booting dominates this file's time) unless `prefetch: false`. */
const startWorker = (opts: { prefetch?: boolean } = {}) => crash.start({ prefetch: opts.prefetch ?? true });
/** Kills the worker, then waits for its per-withdrawal advisory locks to be gone. */
const killWorker = (w: CrashWorker) => crash.kill9(w, { db: t.db, namespace: LockNamespace.withdrawal });

// ------------------------------------------------------------------------------------------ fixtures

let seq = 0;

/** A member with a verified wallet (the app's payout destination) and `amount` whole SOL credited (admin_credit). */
async function member(amount = 5n): Promise<DiscordUserRef & { wallet: string }> {
  const user = await factory.user({ username: `crash${++seq}` });
  const { address } = await factory.wallet(user);
  await factory.balance(user, { amount: amount * SOL });
  return { discordId: user.discordId, username: user.username, wallet: address };
}

async function withdraw(u: DiscordUserRef, amount: string): Promise<Withdrawal> {
  const { withdrawal } = await ctx.services.withdrawals.request({ interactionId: `crash-w-${++seq}`, user: u, amount, currency: 'SOL' });
  expect(withdrawal).toMatchObject({ status: 'approved', signature: null });
  return withdrawal;
}

const row = (id: bigint) => t.db.selectFrom('withdrawals').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

const rpcRaw = (method: string, params: unknown[]) => rawCall(emu, method, params);
const rpc = async <T>(method: string, params: unknown[]): Promise<T> => (await rpcRaw(method, params)).result as T;
const landed = async (signature: string) => (await signatureStatus(emu, signature)) !== null;
/** Landed transactions that touched the destination (a fresh address): the payout count. */
const payoutsTo = async (address: string) => (await rpc<unknown[]>('getSignaturesForAddress', [address])).length;

/**
 * The restart: services built afresh from config (new Connection, no memory of the dead process) run the
 * processor, as the job would every few seconds, until the withdrawal is final.
 */
async function recover(id: bigint): Promise<Withdrawal> {
  const fresh = createTestContext(t, env).services.withdrawals;
  let w = await row(id);
  await until(`withdrawal ${id} final after restart`, async () => {
    await fresh.processPending();
    w = await row(id);
    return w.status === 'confirmed' || w.status === 'refunded';
  });
  return w;
}

/**
 * Exactly one payout of the amount, or none and a full refund; no replaced (or refunded) transaction ever landed;
 * the member's and the whole ledger's sums add up; one journal entry for the debit and at most one for a refund.
 */
async function expectSettled(u: DiscordUserRef & { wallet: string }, w: Withdrawal, outcome: 'paid' | 'refunded', credited: bigint) {
  expect(w.status).toBe(outcome === 'paid' ? 'confirmed' : 'refunded');
  expect(await payoutsTo(u.wallet)).toBe(outcome === 'paid' ? 1 : 0);
  expect(emu.balance(u.wallet)).toBe(outcome === 'paid' ? w.amount : 0n);
  for (const s of [...w.previous_signatures, ...(outcome === 'refunded' && w.signature ? [w.signature] : [])]) expect(await landed(s)).toBe(false);

  const balance = await ctx.services.ledger.balance(u.discordId, 'SOL');
  const open = await t.db
    .selectFrom('withdrawals')
    .select(['amount', 'fee'])
    .where('user_id', '=', w.user_id)
    .where('status', 'in', ['requested', 'approved', 'sent', 'failed'])
    .execute();
  const pending = open.reduce((a, x) => a + x.amount + x.fee, 0n);
  expect(balance + pending).toBe(credited - (outcome === 'paid' ? w.amount + w.fee : 0n));
  await expectLedgerConserved();

  const journal = await t.db
    .selectFrom('journal')
    .select(['idempotency_key', 'type', 'amount'])
    .where('idempotency_key', 'in', [`withdraw:${w.id}`, `withdraw_refund:${w.id}`])
    .orderBy('id')
    .execute();
  expect(journal).toEqual([
    { idempotency_key: `withdraw:${w.id}`, type: 'withdrawal', amount: w.amount + w.fee },
    ...(outcome === 'refunded' ? [{ idempotency_key: `withdraw_refund:${w.id}`, type: 'withdrawal_refund', amount: w.amount + w.fee }] : []),
  ]);
  const dupes = await t.db
    .selectFrom('journal')
    .select('idempotency_key')
    .groupBy('idempotency_key')
    .having((eb) => eb.fn.countAll(), '>', 1)
    .execute();
  expect(dupes).toEqual([]);
}

/** All SOL balances + open withdrawals = credited − confirmed withdrawals, over every member in this file. */
async function expectLedgerConserved(): Promise<void> {
  const sum = (xs: { n: string | bigint | number | null }[]) => BigInt(xs[0]?.n ?? 0);
  const balances = await t.db.selectFrom('balances').select((eb) => eb.fn.sum<string>('amount').as('n')).where('currency', '=', 'SOL').execute();
  const credited = await t.db
    .selectFrom('journal')
    .select((eb) => eb.fn.sum<string>('amount').as('n'))
    .where('currency', '=', 'SOL')
    .where('type', '=', 'admin_credit')
    .execute();
  const ws = await t.db.selectFrom('withdrawals').select(['status', 'amount', 'fee']).where('currency', '=', 'SOL').execute();
  const total = (statuses: string[]) => ws.filter((x) => statuses.includes(x.status)).reduce((a, x) => a + x.amount + x.fee, 0n);
  expect(sum(balances) + total(['requested', 'approved', 'sent', 'failed'])).toBe(sum(credited) - total(['confirmed']));
}

// ------------------------------------------------------------------------------------------ the states

describe('withdrawal outbox survives SIGKILL in every state', { timeout: 180_000 }, () => {
  it('killed after the debit, while building the transaction (nothing signed yet): paid once after restart', async () => {
    const u = await member();
    const w = await withdraw(u, '1');
    // The worker's first step is sign(): it blocks fetching the blockhash, before anything is persisted.
    gate.hold('getLatestBlockhash');
    worker = await startWorker();
    await until('worker blocked in sign()', () => gate.held('getLatestBlockhash') > 0, worker);
    await killWorker(worker);

    expect(await row(w.id)).toMatchObject({ status: 'approved', signature: null, attempts: 0 });
    const after = await recover(w.id);
    expect(after).toMatchObject({ attempts: 1, previous_signatures: [] });
    await expectSettled(u, after, 'paid', 5n * SOL);
  });

  it('killed with the signed transaction committed but not yet sent: the same signature is sent, paid once', async () => {
    const u = await member();
    const w = await withdraw(u, '1');
    gate.hold('sendTransaction');
    worker = await startWorker();
    await until('worker blocked sending', () => gate.held('sendTransaction') > 0, worker);
    await killWorker(worker);

    const killed = await row(w.id);
    expect(killed).toMatchObject({ status: 'approved', attempts: 1 });
    expect(killed.signature).toBeTruthy();
    expect(await landed(killed.signature!)).toBe(false);
    const after = await recover(w.id);
    expect(after).toMatchObject({ signature: killed.signature, attempts: 1, previous_signatures: [] });
    await expectSettled(u, after, 'paid', 5n * SOL);
  });

  it('killed after the send landed but before it was recorded: no second payout', async () => {
    const u = await member();
    const w = await withdraw(u, '1');
    // Delivered to the emulator, answer withheld: the worker dies not knowing it sent.
    gate.hold('sendTransaction', { forward: true });
    worker = await startWorker();
    await until('send delivered, worker waiting for the answer', () => gate.held('sendTransaction') > 0, worker);
    await killWorker(worker);

    const killed = await row(w.id);
    expect(killed).toMatchObject({ status: 'approved', attempts: 1 });
    expect(await landed(killed.signature!)).toBe(true);
    const after = await recover(w.id);
    expect(after).toMatchObject({ signature: killed.signature, attempts: 1 });
    await expectSettled(u, after, 'paid', 5n * SOL);
  });

  it('killed while sent and landed but not yet confirmed: confirms without a rebuild, paid once', async () => {
    const u = await member();
    const w = await withdraw(u, '1');
    // The payout lands but stays `processed` for a while; the worker records `sent` and is held asking for its status.
    emu.faults.delayConfirmation(1_500);
    gate.hold('getSignatureStatuses');
    worker = await startWorker();
    await until('row sent, worker held reading the status', async () => gate.held('getSignatureStatuses') > 0 && (await row(w.id)).status === 'sent', worker);
    await killWorker(worker);

    const killed = await row(w.id);
    expect(killed).toMatchObject({ status: 'sent', attempts: 1 });
    expect(await landed(killed.signature!)).toBe(true);
    const after = await recover(w.id);
    expect(after).toMatchObject({ signature: killed.signature, attempts: 1, previous_signatures: [] });
    await expectSettled(u, after, 'paid', 5n * SOL);
  });

  it('killed with two payouts sent but dropped, then blockhashes expire: one is rebuilt and paid once, the other expires on its last attempt too and is refunded in full', async () => {
    const [u1, u2] = [await member(3n), await member()];
    const [w1, w2] = [await withdraw(u1, '2'), await withdraw(u2, '1')];
    // Both first sends are swallowed by the cluster; the next send (w1's re-send of the same bytes) is held.
    emu.faults.dropNextSend();
    emu.faults.dropNextSend();
    gate.hold('sendTransaction', { after: 2 });
    worker = await startWorker();
    await until('both rows sent, a re-send held', async () => gate.held('sendTransaction') > 0 && (await row(w2.id)).status === 'sent', worker);
    await killWorker(worker);

    const [k1, k2] = [await row(w1.id), await row(w2.id)];
    expect(k1).toMatchObject({ status: 'sent', attempts: 1 });
    expect(k2).toMatchObject({ status: 'sent', attempts: 1 });
    expect([await landed(k1.signature!), await landed(k2.signature!)]).toEqual([false, false]);

    // The restarted processor finds both expired and rebuilds them (the last of WITHDRAW_MAX_ATTEMPTS=2);
    // w1's replacement is dropped as well.
    emu.expireBlockhashes();
    emu.faults.dropNextSend();
    await createTestContext(t, env).services.withdrawals.processPending();
    expect(await row(w1.id)).toMatchObject({ status: 'sent', attempts: 2, previous_signatures: [k1.signature] });
    emu.expireBlockhashes();

    const [a1, a2] = [await recover(w1.id), await recover(w2.id)];
    expect(a1).toMatchObject({ attempts: 2, failure_reason: 'payout not confirmed after 2 attempts' });
    expect(a2).toMatchObject({ attempts: 2, previous_signatures: [k2.signature] });
    expect(a2.signature).not.toBe(k2.signature);
    await expectSettled(u1, a1, 'refunded', 3n * SOL);
    await expectSettled(u2, a2, 'paid', 5n * SOL);
    expect(await ctx.services.ledger.balance(u1.discordId, 'SOL')).toBe(3n * SOL);
  });

  it('killed after the last rebuild was committed, before its first send, and down until it expired: refunded; the signed bytes can never pay', async () => {
    const u = await member();
    const w = await withdraw(u, '1');
    emu.faults.dropNextSend();
    gate.hold('sendTransaction', { after: 1 });
    worker = await startWorker();
    await until('first send dropped, re-send held', async () => gate.held('sendTransaction') > 0 && (await row(w.id)).status === 'sent', worker);
    await killWorker(worker);
    const dropped = (await row(w.id)).signature!;

    // A second worker finds the blockhash dead, commits the replacement (attempt 2 of 2) and is killed sending it.
    gate.reset();
    gate.hold('sendTransaction');
    emu.expireBlockhashes();
    worker = await startWorker({ prefetch: false });
    await until('replacement committed, its send held', () => gate.held('sendTransaction') > 0, worker);
    await killWorker(worker);

    const killed = await row(w.id);
    expect(killed).toMatchObject({ status: 'approved', attempts: 2, previous_signatures: [dropped] });
    expect(await landed(killed.signature!)).toBe(false);
    // Nothing runs until the replacement's blockhash is dead as well: the restart's send is refused, then refund.
    emu.expireBlockhashes();
    const after = await recover(w.id);
    expect(after).toMatchObject({ signature: killed.signature, attempts: 2, failure_reason: 'payout not confirmed after 2 attempts' });
    await expectSettled(u, after, 'refunded', 5n * SOL);

    // Someone replaying the stored wire bytes (with or without preflight) cannot make the refunded payout land.
    expect(await rpcRaw('sendTransaction', [killed.serialized_tx, { encoding: 'base64' }])).toMatchObject({ error: { message: expect.stringMatching(/blockhash/i) } });
    await rpcRaw('sendTransaction', [killed.serialized_tx, { encoding: 'base64', skipPreflight: true }]);
    expect(await landed(killed.signature!)).toBe(false);
    expect(await payoutsTo(u.wallet)).toBe(0);
  });
});

describe('outbox findings', () => {
  it('a payout that failed on chain is refunded only once the failure is confirmed: a processed failure may still be rolled back', async () => {
    const u = await member();
    const w = await withdraw(u, '1');
    const svc = createTestContext(t, env).services.withdrawals;
    const signed = await svc.sign(w.id);

    // The treasury is emptied after signing, and the signed bytes reach the cluster without preflight (as a
    // re-broadcast by any node that saw them would): it lands failed, and stays `processed` for a while.
    const left = emu.balance(treasuryKey.publicKey) - SOL / 100n;
    await emu.sendAs(treasuryKey, [SystemProgram.transfer({ fromPubkey: treasuryKey.publicKey, toPubkey: Keypair.generate().publicKey, lamports: left })]);
    emu.faults.delayConfirmation(3_000);
    await rpcRaw('sendTransaction', [signed.serialized_tx, { encoding: 'base64', skipPreflight: true }]);
    emu.fund(treasuryKey.publicKey, 100n * SOL);

    const commitment = async () =>
      (await rpc<{ value: ({ confirmationStatus: string; err: unknown } | null)[] }>('getSignatureStatuses', [[signed.signature], { searchTransactionHistory: true }])).value[0];
    expect(await commitment()).toMatchObject({ confirmationStatus: 'processed', err: { InstructionError: expect.anything() } });
    const seen = await svc.advance(w.id);
    // Only meaningful while the failure is still unconfirmed; the delay makes that the case.
    expect(await commitment()).toMatchObject({ confirmationStatus: 'processed' });
    expect(seen.status).toBe('sent');

    const after = await recover(w.id);
    expect(after).toMatchObject({ status: 'refunded', signature: signed.signature, failure_reason: expect.stringMatching(/failed on chain/) });
    expect(emu.balance(u.wallet)).toBe(0n);
    expect(await ctx.services.ledger.balance(u.discordId, 'SOL')).toBe(5n * SOL);
    await expectLedgerConserved();
  });
});

describe('payout notifications are an outbox (at-least-once)', () => {
  it('killed after the confirmation committed, before the DM went out: the restarted processor sends it, once', { timeout: 180_000 }, async () => {
    const u = await member();
    const w = await withdraw(u, '1');
    // Earlier tests' payouts were settled by services without a notifier, so their notices are still owed; the hanging
    // worker would get stuck on the first of those. They are not this test's subject: count them as sent.
    await t.db.updateTable('withdrawal_notices').set({ sent_at: new Date() }).where('sent_at', 'is', null).execute();
    // A worker whose Discord never answers: it prints `notifying <id>` once it is in the DM, after the commit.
    const hung = await crash.start({ env: { WORKER_NOTIFY: 'hang' } });
    worker = hung;
    await until('worker inside the DM, after the confirmation', () => hung.printed(`notifying ${w.id}`), hung);
    await killWorker(hung);

    expect(await row(w.id)).toMatchObject({ status: 'confirmed' });
    const owed = () => t.db.selectFrom('withdrawal_notices').selectAll().where('withdrawal_id', '=', w.id).execute();
    expect(await owed()).toEqual([expect.objectContaining({ kind: 'confirmed', sent_at: null, attempts: 1 })]);

    // The restart: a process with a working Discord. The dead worker's lease (60 s) is what it waits out; here
    // the lease is ended by hand so the test need not sleep through it.
    await t.db.updateTable('withdrawal_notices').set({ claimed_until: null }).where('withdrawal_id', '=', w.id).execute();
    const dms: Array<{ kind: string; discordId: string; id: bigint }> = [];
    const restarted = createTestContext(t, env, {
      withdrawals: async (e) => {
        if (e.kind !== 'payouts-capped') dms.push({ kind: e.kind, discordId: e.discordId, id: e.withdrawal.id });
      },
    }).services.withdrawals;
    await restarted.processPending();
    expect(dms).toEqual([{ kind: 'confirmed', discordId: u.discordId, id: w.id }]);
    expect(await owed()).toEqual([expect.objectContaining({ kind: 'confirmed', sent_at: expect.any(Date), attempts: 2 })]);
    // Sent and marked: later passes do not send it again.
    await restarted.processPending();
    expect(dms).toHaveLength(1);
    await expectSettled(u, await row(w.id), 'paid', 5n * SOL);
  });
});
