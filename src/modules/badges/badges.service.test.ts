import { createAssociatedTokenAccountIdempotentInstruction, createTransferCheckedInstruction, getAssociatedTokenAddressSync, TOKEN_2022_PROGRAM_ID } from '@solana/spl-token';
import { Keypair, PublicKey } from '@solana/web3.js';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../../app-context';
import { badgeHolderBalance, readBadge } from '../../chain/badge-mint';
import { generateTreasury } from '../../chain/treasury';
import { startSolanaEmulator, type SolanaEmulator } from '../../emulators/solana/solana-emulator';
import { Factory, type TestUser } from '../../testing/factories';
import { createTestContext } from '../../testing/test-context';
import { createTestDatabase, type TestDatabase } from '../../testing/test-db';
import { LockNamespace } from '../../db/advisory-lock';
import { bucketed, ratingPeriod } from './badges.service';

// Service level, real Postgres + the Solana emulator: the whole badge life on chain, and every bad input.

const SOL = 1_000_000_000n;
let t: TestDatabase;
let emu: SolanaEmulator;
let ctx: AppContext;
let factory: Factory;
let env: Record<string, string>;
let issuer: string;

beforeAll(async () => {
  [t, emu] = await Promise.all([createTestDatabase(), startSolanaEmulator()]);
  const { treasury, secretJson } = generateTreasury();
  issuer = treasury.publicKey;
  emu.fund(issuer, 10n * SOL);
  env = { SOLANA_RPC_URL: emu.rpcUrl, SOLANA_WS_URL: emu.wsUrl, BADGE_ISSUER_SECRET_KEY: secretJson, BADGE_MIN_TIER: 'none', PUBLIC_URL: 'http://127.0.0.1:3000' };
  ctx = createTestContext(t, env);
  factory = new Factory(t.db);
});

afterAll(async () => {
  expect(emu?.failures).toEqual([]);
  await emu?.close();
  await t?.drop();
});

const ref = (u: TestUser) => ({ discordId: u.discordId, username: u.username });

/** A member with a real keypair as verified wallet (so the test can sign as the holder) who accepted the terms. */
async function member(o: { terms?: boolean; wallet?: boolean } = {}) {
  const user = await factory.user();
  const keypair = Keypair.generate();
  if (o.wallet !== false) await factory.wallet(user, { address: keypair.publicKey.toBase58() });
  if (o.terms !== false) await ctx.services.badges.acceptTerms(ref(user), ctx.config.BADGE_TERMS_VERSION);
  return { user, keypair };
}

const badges = () => ctx.services.badges;
/** The holder's badge balance; 0 also when the mint is closed (the emulator helper needs a live mint). */
const held = async (owner: PublicKey, mint: string) => (await badgeHolderBalance(ctx.services.chain.connection, owner.toBase58(), mint))?.amount ?? 0n;

describe('badge life on chain', () => {
  it('terms → wallet → claim mints a soulbound badge; transfer fails; score change → sync rewrites fields; revoke burns and closes', async () => {
    const { user, keypair } = await member();
    const { badge, queuedReason } = await badges().claim(ref(user));
    expect(queuedReason).toBeUndefined();
    expect(badge).toMatchObject({ status: 'active', wallet: keypair.publicKey.toBase58(), issuer });
    const mint = badge.mint!;

    const onChain = await readBadge(ctx.services.chain.connection, mint);
    expect(onChain).toMatchObject({ supply: 1n, mintAuthority: null, nonTransferable: true, permanentDelegate: issuer, uri: `http://127.0.0.1:3000/badges/${mint}.json` });
    expect(onChain!.fields).toEqual({ reputation: bucketed(badge.reputation_score), tier: badge.tier, discord: expect.stringMatching(/^[0-9a-f]{32}$/) });
    expect(await held(keypair.publicKey, mint)).toBe(1n);
    const verification = await t.db.selectFrom('verifications').selectAll().where('user_id', '=', user.id).executeTakeFirstOrThrow();
    expect(verification).toMatchObject({ wallet: keypair.publicKey.toBase58(), nft_mint: mint, verified_at: expect.any(Date) });

    // The holder cannot move it.
    emu.fund(keypair.publicKey, SOL / 10n);
    const other = Keypair.generate().publicKey;
    const key = new PublicKey(mint);
    const to = getAssociatedTokenAddressSync(key, other, false, TOKEN_2022_PROGRAM_ID);
    await expect(
      emu.sendAs(keypair, [
        createAssociatedTokenAccountIdempotentInstruction(keypair.publicKey, to, other, key, TOKEN_2022_PROGRAM_ID),
        createTransferCheckedInstruction(getAssociatedTokenAddressSync(key, keypair.publicKey, false, TOKEN_2022_PROGRAM_ID), key, to, keypair.publicKey, 1, 0, [], TOKEN_2022_PROGRAM_ID),
      ]),
    ).rejects.toThrow();
    expect(await held(keypair.publicKey, mint)).toBe(1n);

    // A year-old account: +150 → a new bucket and tier; the sync job rewrites both, once.
    await sql`UPDATE users SET created_at = now() - interval '400 days' WHERE id = ${user.id}`.execute(t.db);
    await badges().recompute();
    const rep = (await badges().reputation(user.discordId))!;
    expect(rep.score).toBe(badge.reputation_score + 150);
    expect(await badges().sync()).toEqual({ queued: 1, burned: 0 });
    const fields = (await readBadge(ctx.services.chain.connection, mint))!.fields;
    expect(fields).toMatchObject({ reputation: bucketed(rep.score), tier: rep.tier });
    expect(await badges().byId(badge.id)).toMatchObject({ chain_reputation: bucketed(rep.score), chain_tier: rep.tier });
    expect(await badges().sync()).toEqual({ queued: 0, burned: 0 });

    // Operator revoke: burned by the permanent delegate, mint closed.
    const revoked = await badges().revoke({ discordId: user.discordId }, 'scam reports', { discordId: '999', via: 'discord' });
    expect(revoked).toMatchObject({ status: 'revoked', revoke_reason: 'scam reports', revoked_by: '999' });
    expect(await readBadge(ctx.services.chain.connection, mint)).toBeNull();
    expect(await held(keypair.publicKey, mint)).toBe(0n);
    await expect(badges().revoke({ discordId: user.discordId }, 'again', { discordId: '999', via: 'discord' })).rejects.toMatchObject({ code: 'ALREADY_REVOKED' });

    // A re-claim after revocation is a new mint at a new address.
    const again = await badges().claim(ref(user));
    expect(again.badge.status).toBe('active');
    expect(again.badge.mint).not.toBe(mint);
  });

  it('unlinking the wallet revokes the badge', async () => {
    const { user, keypair } = await member();
    const { badge } = await badges().claim(ref(user));
    expect(badge.status).toBe('active');
    await ctx.services.wallets.unlink(user.discordId);
    const after = await badges().onWalletUnlinked(user.discordId);
    expect(after).toMatchObject({ status: 'revoked', revoked_by: 'wallet-unlink' });
    expect(await readBadge(ctx.services.chain.connection, badge.mint!)).toBeNull();
    expect(await held(keypair.publicKey, badge.mint!)).toBe(0n);
  });

  it('a badge the holder burned is noticed by the sync job and not re-minted', async () => {
    const { user, keypair } = await member();
    const { badge } = await badges().claim(ref(user));
    emu.fund(keypair.publicKey, SOL / 10n);
    const { createBurnCheckedInstruction } = await import('@solana/spl-token');
    const key = new PublicKey(badge.mint!);
    await emu.sendAs(keypair, [createBurnCheckedInstruction(getAssociatedTokenAddressSync(key, keypair.publicKey, false, TOKEN_2022_PROGRAM_ID), key, keypair.publicKey, 1, 0, [], TOKEN_2022_PROGRAM_ID)]);
    expect((await badges().sync()).burned).toBe(1);
    expect(await badges().byId(badge.id)).toMatchObject({ status: 'burned', burned_at: expect.any(Date) });
    // Claiming again after burning is a fresh badge (a new mint), never the old one silently re-minted.
    const again = await badges().claim(ref(user));
    expect(again.badge.mint).not.toBe(badge.mint);
  });

  it('two concurrent claims make one badge', async () => {
    const { user, keypair } = await member();
    const results = await Promise.allSettled([badges().claim(ref(user)), badges().claim(ref(user))]);
    const ok = results.filter((r) => r.status === 'fulfilled');
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(ok).toHaveLength(1);
    expect(failed.map((f) => (f.reason as { code: string }).code)).toEqual(['ALREADY_HAS_BADGE']);
    const rows = await t.db.selectFrom('trust_badges').selectAll().where('user_id', '=', user.id).execute();
    expect(rows).toHaveLength(1);
    expect(await held(keypair.publicKey, rows[0]!.mint!)).toBe(1n);
    await expect(badges().claim(ref(user))).rejects.toMatchObject({ code: 'ALREADY_HAS_BADGE' });
  });

  it('the lock connection dropped mid-advance: the advancer stops before sending, and the next advance mints once', async () => {
    const { user, keypair } = await member();
    const badge = await badges().queueClaim(ref(user));
    const op = (await t.db.selectFrom('badge_chain_ops').select('id').where('badge_id', '=', badge.id).executeTakeFirstOrThrow()).id;
    // A row lock on the badge holds the advancer inside sign() (it marks the badge minting) while its op lock is cut.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const rowLocked = new Promise<void>((r) => (locked = r));
    const holder = t.db.transaction().execute(async (trx) => {
      await sql`select 1 from trust_badges where id = ${badge.id} for update`.execute(trx);
      locked();
      await gate;
    });
    await rowLocked;
    const advancing = badges().advance(op);
    const lockPid = async () =>
      (await sql<{ pid: number }>`
        select l.pid from pg_locks l join pg_stat_activity a on a.pid = l.pid
        where l.locktype = 'advisory' and l.classid = ${LockNamespace.badgeOp} and l.objid = ${Number(op)}
          and a.wait_event_type is distinct from 'Lock'`.execute(t.db)).rows[0]?.pid;
    const waiting = async () =>
      Number((await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and query ilike 'update "trust_badges"%'`.execute(t.db)).rows[0]!.n);
    await expect.poll(waiting, { timeout: 10_000, interval: 50 }).toBe(1);
    const pid = await lockPid();
    expect(pid).toBeDefined();
    await sql`select pg_terminate_backend(${pid})`.execute(t.db);
    release();
    await holder;
    // It finished the step it was in (signed and stored the transaction) and stopped there: nothing was sent.
    const stopped = await advancing;
    expect(stopped).toMatchObject({ status: 'pending', signature: expect.any(String) });
    expect(await held(keypair.publicKey, badge.mint!)).toBe(0n);
    expect(await readBadge(ctx.services.chain.connection, badge.mint!)).toBeNull();
    // The next advance takes the lock on a new connection and mints the stored transaction, once.
    expect(await badges().advance(op)).toMatchObject({ status: 'confirmed', signature: stopped.signature });
    expect(await badges().byId(badge.id)).toMatchObject({ status: 'active' });
    expect(await held(keypair.publicKey, badge.mint!)).toBe(1n);
  });
});

describe('bad input changes nothing', () => {
  const count = async () => Number((await t.db.selectFrom('trust_badges').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n);

  it('claim without terms, without a wallet, below the tier', async () => {
    const before = await count();
    const noTerms = await member({ terms: false });
    await expect(badges().claim(ref(noTerms.user))).rejects.toMatchObject({ code: 'TERMS_REQUIRED' });
    const noWallet = await member({ wallet: false });
    await expect(badges().claim(ref(noWallet.user))).rejects.toMatchObject({ code: 'NO_WALLET' });
    const strict = createTestContext(t, { ...env, BADGE_MIN_TIER: 'gold' }).services.badges;
    const low = await member();
    await expect(strict.claim(ref(low.user))).rejects.toMatchObject({ code: 'TIER_TOO_LOW', message: expect.stringMatching(/gold tier \(score 600\); your reputation is \d+ \(none\)/) });
    expect(await count()).toBe(before);
  });

  it('a blocked member cannot claim; unblocked, the same claim mints', async () => {
    const before = await count();
    const { user } = await member();
    const operator = { discordId: '999', via: 'discord' } as const;
    await ctx.services.users.block(ref(user), 'chargeback', operator);
    await expect(badges().claim(ref(user))).rejects.toMatchObject({ code: 'USER_BLOCKED' });
    expect(await count()).toBe(before);
    await ctx.services.users.unblock(ref(user), operator);
    expect((await badges().claim(ref(user))).badge.status).toBe('active');
  });

  it('a newer terms version asks again before the next mint; a stale Accept button is refused', async () => {
    const { user } = await member();
    const v2 = createTestContext(t, { ...env, BADGE_TERMS_VERSION: '2027-01' }).services.badges;
    await expect(v2.claim(ref(user))).rejects.toMatchObject({ code: 'TERMS_REQUIRED', message: expect.stringContaining('2027-01') });
    await expect(v2.acceptTerms(ref(user), '2026-11')).rejects.toMatchObject({ code: 'TERMS_CHANGED' });
    await v2.acceptTerms(ref(user), '2027-01');
    expect((await v2.termsStatus(user.discordId)).acceptedAt).toBeInstanceOf(Date);
  });

  it('revoke a badge that does not exist', async () => {
    const nobody = await factory.user();
    await expect(badges().revoke({ discordId: nobody.discordId }, 'x', { discordId: '1', via: 'discord' })).rejects.toMatchObject({ code: 'NO_BADGE' });
    await expect(badges().revoke({ badgeId: 999_999n }, 'x', { discordId: '1', via: 'discord' })).rejects.toMatchObject({ code: 'NO_BADGE' });
    await expect(badges().revoke({ badgeId: 1n }, '   ', { discordId: '1', via: 'discord' })).rejects.toMatchObject({ code: 'REASON_REQUIRED' });
  });

  it('issuer out of SOL: the claim is queued with a clear message, the alert fires, and it mints once refilled', async () => {
    const poorKey = generateTreasury();
    const poorEnv = { ...env, BADGE_ISSUER_SECRET_KEY: poorKey.secretJson };
    const poor = createTestContext(t, poorEnv).services.badges;
    emu.fund(poorKey.treasury.publicKey, 1_000_000n);
    const { user, keypair } = await member();
    const { badge, queuedReason } = await poor.claim(ref(user));
    expect(badge.status).toBe('queued');
    expect(queuedReason).toMatch(/issuer is being refilled; your badge is queued/);
    expect(await poor.checkIssuer()).toMatchObject({ low: true });
    const op = await t.db.selectFrom('badge_chain_ops').selectAll().where('badge_id', '=', badge.id).executeTakeFirstOrThrow();
    expect(op).toMatchObject({ status: 'pending', signature: null, failure_reason: expect.stringMatching(/issuer balance/) });

    emu.fund(poorKey.treasury.publicKey, SOL);
    await poor.processPending();
    expect(await poor.byId(badge.id)).toMatchObject({ status: 'active' });
    expect(await held(keypair.publicKey, badge.mint!)).toBe(1n);
  });

  it('wallet unlinked between claim and mint: no badge is minted to the old wallet', async () => {
    const poorKey = generateTreasury();
    const poor = createTestContext(t, { ...env, BADGE_ISSUER_SECRET_KEY: poorKey.secretJson }).services.badges;
    const { user, keypair } = await member();
    const { badge } = await poor.claim(ref(user));
    expect(badge.status).toBe('queued');
    await ctx.services.wallets.unlink(user.discordId);
    emu.fund(poorKey.treasury.publicKey, SOL);
    await poor.processPending();
    expect(await poor.byId(badge.id)).toMatchObject({ status: 'failed', failure_reason: 'wallet unlinked before minting' });
    expect(await held(keypair.publicKey, badge.mint!)).toBe(0n);
  });
});

describe('ratings', () => {
  async function pair(o: { met: boolean }) {
    const a = await factory.user();
    const b = await factory.user();
    if (o.met) {
      await factory.balance(a);
      await ctx.services.ledger.tip({ interactionId: `rate-tip-${a.discordId}`, sender: ref(a), receivers: [ref(b)], amount: '0.1', currency: 'SOL' });
    }
    return [a, b] as const;
  }

  it('rates a member met through a tip once per month; self, range, strangers and repeats are refused', async () => {
    const [a, b] = await pair({ met: true });
    const now = new Date('2026-11-28T00:00:00Z');
    expect(await badges().rate({ rater: ref(a), ratee: ref(b), score: 5, comment: 'fast and fair', now })).toEqual({ period: ratingPeriod(now) });
    await expect(badges().rate({ rater: ref(a), ratee: ref(b), score: 4, now })).rejects.toMatchObject({ code: 'ALREADY_RATED' });
    // The other direction is its own pair; next month is a new period.
    await badges().rate({ rater: ref(b), ratee: ref(a), score: 4, now });
    await badges().rate({ rater: ref(a), ratee: ref(b), score: 3, now: new Date('2026-12-01T00:00:00Z') });

    await expect(badges().rate({ rater: ref(a), ratee: ref(a), score: 5, now })).rejects.toMatchObject({ code: 'RATE_SELF' });
    for (const score of [0, 6, 2.5]) await expect(badges().rate({ rater: ref(a), ratee: ref(b), score, now })).rejects.toMatchObject({ code: 'RATING_RANGE' });
    const [c, d] = await pair({ met: false });
    await expect(badges().rate({ rater: ref(c), ratee: ref(d), score: 5, now })).rejects.toMatchObject({ code: 'NEVER_MET' });
    const n = await t.db.selectFrom('ratings').select((eb) => eb.fn.countAll<string>().as('n')).where('rater_id', 'in', [a.id, c.id]).executeTakeFirstOrThrow();
    expect(Number(n.n)).toBe(2);
  });

  it('ratings move the score deterministically', async () => {
    const [a, b] = await pair({ met: true });
    const before = (await badges().reputation(b.discordId))!;
    await badges().rate({ rater: ref(a), ratee: ref(b), score: 5 });
    const after = (await badges().reputation(b.discordId))!;
    // One 5-star rating: (5 − 3) / 2 × 200 × 1/10 = +20.
    expect(after.score - before.score).toBe(20);
    expect(after.components).toMatchObject({ ratings: 20 });
    expect((await badges().reputation(b.discordId))!.score).toBe(after.score);
  });
});
