import { fileURLToPath } from 'node:url';
import { Keypair, PublicKey } from '@solana/web3.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { badgeHolderBalance, readBadge } from '../../chain/badge-mint';
import { LockNamespace } from '../../db/advisory-lock';
import type { CrashWorker } from '../../testing/crash-harness';
import { createTestContext } from '../../testing/test-context';
import { rpcRaw, signatureStatus, useChainCrashWorld, type ChainCrashWorld } from '../withdrawals/testing/chain-crash-world';
import type { Badge } from './badges.service';

/*
 * "Exactly one badge per claim", with real process deaths (src/testing/crash-harness.ts): a worker process
 * (testing/badge-worker.ts: config + createServices as the app builds them, the badge-processor job in a loop) is
 * SIGKILLed once the outbox shows the state under test and the worker is provably stuck in the next step — held in
 * an RPC call by a loopback gate, or parked by an emulator fault. A freshly built service then finishes the job.
 */

const WORKER = fileURLToPath(new URL('./testing/badge-worker.ts', import.meta.url));

const world = useChainCrashWorld({
  worker: WORKER,
  env: ({ t, emu, treasurySecret }) => ({
    LOG_LEVEL: 'silent',
    DATABASE_URL: t.url,
    SOLANA_RPC_URL: emu.rpcUrl,
    SOLANA_WS_URL: emu.wsUrl,
    BADGE_ISSUER_SECRET_KEY: treasurySecret,
    BADGE_MIN_TIER: 'none',
    BADGE_MAX_ATTEMPTS: '3',
    PUBLIC_URL: 'http://127.0.0.1:3000',
  }),
});
const crash = world.crash;
const until = crash.until.bind(crash);
// The world's parts under short names, bound once its beforeAll has built them.
let { t, emu, gate, ctx, factory, env } = {} as ChainCrashWorld;
let worker: CrashWorker | undefined;
beforeAll(() => {
  ({ t, emu, gate, ctx, factory, env } = world);
});

const startWorker = () => crash.start();
const killWorker = (w: CrashWorker) => crash.kill9(w, { db: t.db, namespace: LockNamespace.badgeOp });

/** A member with terms and a wallet whose claim is queued (not yet touched by the chain). */
async function queuedClaim(): Promise<{ badge: Badge; wallet: string }> {
  const user = await factory.user();
  const wallet = Keypair.generate().publicKey.toBase58();
  await factory.wallet(user, { address: wallet });
  const ref = { discordId: user.discordId, username: user.username };
  await ctx.services.badges.acceptTerms(ref, ctx.config.BADGE_TERMS_VERSION);
  const badge = await ctx.services.badges.queueClaim(ref);
  expect(badge).toMatchObject({ status: 'queued', wallet });
  return { badge, wallet };
}

const op = (badgeId: bigint) => t.db.selectFrom('badge_chain_ops').selectAll().where('badge_id', '=', badgeId).where('kind', '=', 'mint').executeTakeFirstOrThrow();

const rpc = async <T>(method: string, params: unknown[]): Promise<T> => (await rpcRaw(emu, method, params)).result as T;
const landed = (signature: string) => signatureStatus(emu, signature);

async function recover(badgeId: bigint): Promise<Badge> {
  const fresh = createTestContext(t, env).services.badges;
  let b = (await fresh.byId(badgeId))!;
  await until(`badge ${badgeId} final after restart`, async () => {
    await fresh.processPending();
    b = (await fresh.byId(badgeId))!;
    return b.status !== 'queued' && b.status !== 'minting';
  });
  return b;
}

/** One badge on chain for the claim: supply 1 in the holder's wallet, one successful mint tx, replaced ones never landed. */
async function expectOneBadge(b: Badge, wallet: string) {
  expect(b.status).toBe('active');
  const onChain = await readBadge(ctx.services.chain.connection, b.mint!);
  expect(onChain).toMatchObject({ supply: 1n, mintAuthority: null, nonTransferable: true });
  expect((await badgeHolderBalance(ctx.services.chain.connection, wallet, b.mint!))?.amount).toBe(1n);
  const o = await op(b.id);
  expect(o.status).toBe('confirmed');
  for (const s of o.previous_signatures) expect(await landed(s)).toBeNull();
  const sigs = await rpc<{ err: unknown }[]>('getSignaturesForAddress', [b.mint!]);
  expect(sigs.filter((s) => s.err === null)).toHaveLength(1);
  // Exactly one badge row for the user, and no other mint for the holder.
  const rows = await t.db.selectFrom('trust_badges').select('id').where('user_id', '=', b.user_id).execute();
  expect(rows).toHaveLength(1);
  const held = await ctx.services.chain.connection.getParsedTokenAccountsByOwner(new PublicKey(wallet), { programId: new PublicKey('TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb') });
  expect(held.value).toHaveLength(1);
}

describe('badge outbox survives SIGKILL in every state', () => {
  it('killed while building the mint transaction (nothing signed): one badge after restart', async () => {
    const { badge, wallet } = await queuedClaim();
    gate.hold('getLatestBlockhash');
    worker = await startWorker();
    await until('worker blocked in sign()', () => gate.held('getLatestBlockhash') > 0, worker);
    await killWorker(worker);
    expect(await op(badge.id)).toMatchObject({ status: 'pending', signature: null, attempts: 0 });
    const after = await recover(badge.id);
    await expectOneBadge(after, wallet);
    expect(await op(badge.id)).toMatchObject({ attempts: 1, previous_signatures: [] });
  });

  it('killed with the signed transaction committed but not sent: the same signature lands, one badge', async () => {
    const { badge, wallet } = await queuedClaim();
    gate.hold('sendTransaction');
    worker = await startWorker();
    await until('worker blocked sending', () => gate.held('sendTransaction') > 0, worker);
    await killWorker(worker);
    const killed = await op(badge.id);
    expect(killed).toMatchObject({ status: 'pending', attempts: 1 });
    expect(await landed(killed.signature!)).toBeNull();
    const after = await recover(badge.id);
    await expectOneBadge(after, wallet);
    expect(await op(badge.id)).toMatchObject({ signature: killed.signature, attempts: 1 });
  });

  it('killed after the send landed but before it was recorded: no second mint', async () => {
    const { badge, wallet } = await queuedClaim();
    gate.hold('sendTransaction', { forward: true });
    worker = await startWorker();
    await until('send delivered, answer withheld', () => gate.held('sendTransaction') > 0, worker);
    await killWorker(worker);
    const killed = await op(badge.id);
    expect(killed.status).toBe('pending');
    expect(await landed(killed.signature!)).toMatchObject({ err: null });
    const after = await recover(badge.id);
    await expectOneBadge(after, wallet);
    expect(await op(badge.id)).toMatchObject({ signature: killed.signature, attempts: 1 });
  });

  it('killed while sent and landed but not yet confirmed: confirms without a rebuild', async () => {
    const { badge, wallet } = await queuedClaim();
    emu.faults.delayConfirmation(1_500);
    gate.hold('getSignatureStatuses');
    worker = await startWorker();
    await until('row sent, status read held', async () => gate.held('getSignatureStatuses') > 0 && (await op(badge.id)).status === 'sent', worker);
    await killWorker(worker);
    const after = await recover(badge.id);
    await expectOneBadge(after, wallet);
    expect(await op(badge.id)).toMatchObject({ attempts: 1, previous_signatures: [] });
  });

  it('killed with the mint sent but dropped, down until its blockhash expired: rebuilt once, one badge; the old bytes can never land', async () => {
    const { badge, wallet } = await queuedClaim();
    emu.faults.dropNextSend();
    gate.hold('sendTransaction', { after: 1 });
    worker = await startWorker();
    await until('first send dropped, re-send held', async () => gate.held('sendTransaction') > 0 && (await op(badge.id)).status === 'sent', worker);
    await killWorker(worker);
    const dropped = await op(badge.id);
    expect(await landed(dropped.signature!)).toBeNull();

    emu.expireBlockhashes();
    const after = await recover(badge.id);
    await expectOneBadge(after, wallet);
    const o = await op(badge.id);
    expect(o).toMatchObject({ attempts: 2, previous_signatures: [dropped.signature] });

    // Replaying the dead bytes without preflight changes nothing.
    await rpc('sendTransaction', [dropped.serialized_tx, { encoding: 'base64', skipPreflight: true }]);
    expect(await landed(dropped.signature!)).toBeNull();
    await expectOneBadge(after, wallet);
  });
});
