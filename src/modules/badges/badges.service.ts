import type { Kysely, Transaction } from 'kysely';
import {
  BADGE_FIELD_WIDTH,
  badgeHolderBalance,
  badgeMintAddress,
  badgeMintRent,
  buildBadgeFieldUpdateInstructions,
  buildBadgeMintInstructions,
  buildBadgeRevokeInstructions,
  discordFieldValue,
  issuerHmac,
  loadBadgeIssuer,
  readBadge,
  signIssuerTransaction,
  type BadgeIssuer,
} from '../../chain/badge-mint';
import type { ChainService } from '../../chain/chain.service';
import { ChainSendError, getBlockHeight, getLamports, getLatestBlockhash, getSignatureStatus, isBlockhashValid, sendRaw } from '../../chain/transfers';
import type { Config } from '../../config';
import { LockNamespace, withTryAdvisoryLock } from '../../db/advisory-lock';
import type { DB } from '../../db/schema';
import { UserError } from '../../errors';
import type { Logger } from '../../logger';
import type { Metrics } from '../../metrics';
import type { DiscordUserRef } from '../ledger/ledger.service';
import { writeAudit, type AuditActor } from '../guilds/guilds.audit';
import { refuseBlocked } from '../users/blocked';
import * as users from '../users/users.accounts';
import * as repo from './badges.repository';
import type { BadgeOpRow, BadgeRow } from './badges.repository';
import type { BadgeStatus } from './badges.tables';

/** Tiers by minimum score (README "Reputation"). */
export const TIERS = [
  { name: 'none', min: 0 },
  { name: 'bronze', min: 200 },
  { name: 'silver', min: 400 },
  { name: 'gold', min: 600 },
  { name: 'platinum', min: 800 },
] as const;
export type TierName = (typeof TIERS)[number]['name'];

/** On chain the score is written in buckets of this size, so small moves do not cost a transaction each. */
export const SCORE_BUCKET = 50;
export const BADGE_NAME = 'Solbound Trust Badge';
export const BADGE_SYMBOL = 'SBTRUST';

const tierRank = (t: string) => TIERS.findIndex((x) => x.name === t);
export const tierOf = (score: number): TierName => [...TIERS].reverse().find((t) => score >= t.min)!.name;
export const bucketed = (score: number) => String(Math.floor(score / SCORE_BUCKET) * SCORE_BUCKET).padStart(BADGE_FIELD_WIDTH.reputation, '0');

/** Rating periods are calendar months (UTC): once per pair per month. */
export const ratingPeriod = (at: Date) => at.toISOString().slice(0, 7);

export type Badge = BadgeRow;
export type WalletLookup = (discordId: string) => Promise<string | undefined>;

export interface ClaimResult {
  badge: Badge;
  /** Set when the badge waits (issuer low on SOL, chain busy): it will be minted by the badge processor. */
  queuedReason?: string;
}

export type BadgeConfig = Pick<
  Config,
  'BADGE_ISSUER_SECRET_KEY' | 'BADGE_ISSUER_KEYPAIR_PATH' | 'BADGE_TERMS_VERSION' | 'BADGE_MIN_TIER' | 'BADGE_ISSUER_MIN_LAMPORTS' | 'BADGE_MAX_ATTEMPTS' | 'PUBLIC_URL' | 'HTTP_HOST' | 'HTTP_PORT'
>;

const PROCESS_BATCH = 100;
const MAX_STEPS = 10;
// The holder's Token-2022 account (with its extensions) plus the fee, on top of the mint's own rent.
const HOLDER_ACCOUNT_BYTES = 200;
const FEE_ALLOWANCE = 10_000n;

/**
 * Trust badges: terms, reputation, ratings and the badge outbox. Every piece of chain work (mint, field update,
 * revoke) is a `badge_chain_ops` row handled like a withdrawal: its signed transaction is committed before the first
 * send, re-sent byte for byte until it confirms, and replaced only once the cluster's block height is past its last
 * valid height without it having landed. The mint address derives from the badge id, so even a replacement cannot
 * create a second badge: any second mint transaction fails because the account exists. See README.md.
 */
export class BadgesService {
  readonly #issuer: BadgeIssuer | null;
  readonly #publicUrl: string;

  constructor(
    private readonly db: Kysely<DB>,
    private readonly chain: ChainService,
    private readonly walletOf: WalletLookup,
    private readonly config: BadgeConfig,
    private readonly metrics?: Pick<Metrics, 'badgeIssuerLamports' | 'badgeIssuerLow'>,
    private readonly log?: Logger,
  ) {
    this.#issuer =
      config.BADGE_ISSUER_SECRET_KEY || config.BADGE_ISSUER_KEYPAIR_PATH
        ? loadBadgeIssuer({
            ...(config.BADGE_ISSUER_SECRET_KEY ? { secret: config.BADGE_ISSUER_SECRET_KEY } : {}),
            ...(config.BADGE_ISSUER_KEYPAIR_PATH ? { keypairPath: config.BADGE_ISSUER_KEYPAIR_PATH } : {}),
          })
        : null;
    // Metadata URIs are written on chain: startApp resolves PUBLIC_URL (default: where it listens) before building services.
    this.#publicUrl = (config.PUBLIC_URL ?? `http://${config.HTTP_HOST}:${config.HTTP_PORT}`).replace(/\/+$/, '');
  }

  get issuerAddress(): string | null {
    return this.#issuer?.publicKey ?? null;
  }

  private issuer(): BadgeIssuer {
    if (!this.#issuer) throw new UserError('BADGES_DISABLED', 'Trust badges are not set up on this bot yet.');
    return this.#issuer;
  }

  metadataUri(mint: string): string {
    return `${this.#publicUrl}/badges/${mint}.json`;
  }

  // ---------------------------------------------------------------- terms

  get termsVersion(): string {
    return this.config.BADGE_TERMS_VERSION;
  }

  async termsStatus(discordId: string): Promise<{ version: string; acceptedAt: Date | null }> {
    const user = await users.findByDiscordId(this.db, discordId);
    const v = user && (await repo.findVerification(this.db, user.id, this.termsVersion));
    return { version: this.termsVersion, acceptedAt: v?.accepted_at ?? null };
  }

  /** Records acceptance of `version`; a stale button (older version) asks to look at the new terms. */
  async acceptTerms(user: DiscordUserRef, version: string): Promise<{ version: string; acceptedAt: Date }> {
    if (version !== this.termsVersion) {
      throw new UserError('TERMS_CHANGED', `The badge terms changed (now version ${this.termsVersion}); run \`/badge terms\` again.`);
    }
    const row = await this.db.transaction().execute(async (trx) => repo.acceptTerms(trx, await users.ensureId(trx, user), version));
    return { version, acceptedAt: row.accepted_at };
  }

  // ---------------------------------------------------------------- reputation & ratings

  /** Recomputes every user's score (the reputation job); `only` restricts it to one user (claims, /badge show). */
  recompute(only?: bigint): Promise<number> {
    return repo.recomputeScores(this.db, [...TIERS], only);
  }

  async reputation(discordId: string): Promise<{ score: number; tier: TierName; components: Record<string, number> } | null> {
    const user = await users.findByDiscordId(this.db, discordId);
    if (!user) return null;
    await this.recompute(user.id);
    const s = await repo.findScore(this.db, user.id);
    return s ? { score: s.score, tier: s.tier as TierName, components: s.components } : null;
  }

  async rate(input: { rater: DiscordUserRef; ratee: DiscordUserRef; score: number; comment?: string | null; now?: Date }): Promise<{ period: string }> {
    if (input.rater.discordId === input.ratee.discordId) throw new UserError('RATE_SELF', 'You cannot rate yourself.');
    if (input.ratee.bot) throw new UserError('BOT_USER', 'Bots cannot be rated.');
    if (!Number.isInteger(input.score) || input.score < 1 || input.score > 5) {
      throw new UserError('RATING_RANGE', 'A rating is a whole number from 1 to 5.');
    }
    const comment = input.comment?.trim() || null;
    if (comment && comment.length > 500) throw new UserError('COMMENT_TOO_LONG', 'Keep the comment under 500 characters.');
    const period = ratingPeriod(input.now ?? new Date());
    await this.db.transaction().execute(async (trx) => {
      const ids = await users.ensureIds(trx, [input.rater, input.ratee]);
      const raterId = ids.get(input.rater.discordId)!;
      const rateeId = ids.get(input.ratee.discordId)!;
      if (!(await repo.haveInteracted(trx, raterId, rateeId))) {
        throw new UserError('NEVER_MET', `You can only rate members you have dealt with (a tip or a ticket) — not ${input.ratee.username} yet.`);
      }
      if (!(await repo.insertRating(trx, { raterId, rateeId, score: input.score, comment, period }))) {
        throw new UserError('ALREADY_RATED', `You already rated ${input.ratee.username} this month; you can rate them again next month.`);
      }
    });
    return { period };
  }

  // ---------------------------------------------------------------- badges

  async show(discordId: string): Promise<Badge | undefined> {
    const user = await users.findByDiscordId(this.db, discordId);
    return user ? repo.findCurrentBadge(this.db, user.id) : undefined;
  }

  byMint(mint: string): Promise<Badge | undefined> {
    return repo.findBadgeByMint(this.db, mint);
  }

  byId(id: bigint): Promise<Badge | undefined> {
    return repo.findBadge(this.db, id);
  }

  list(opts: { status?: BadgeStatus; limit?: number; beforeId?: bigint } = {}): Promise<Badge[]> {
    return repo.listBadges(this.db, { limit: opts.limit ?? 50, ...(opts.status ? { status: opts.status } : {}), ...(opts.beforeId !== undefined ? { beforeId: opts.beforeId } : {}) });
  }

  /**
   * /badge claim: terms of the current version, a linked wallet and the minimum tier, then one badge row + its
   * mint op in one transaction (a second concurrent claim finds the live badge), then the mint is advanced now.
   * The member's reply waits for that; if the chain or the issuer is not ready the badge stays queued.
   */
  async claim(user: DiscordUserRef): Promise<ClaimResult> {
    const badge = await this.queueClaim(user);
    const op = (await repo.openOpOf(this.db, badge.id, 'mint'))!;
    let queuedReason: string | undefined;
    try {
      await this.advance(op.id);
    } catch (err) {
      this.log?.warn({ err, badgeId: badge.id }, 'badge mint step failed; the processor retries');
    }
    const after = (await repo.findBadge(this.db, badge.id))!;
    if (after.status === 'queued' || after.status === 'minting') {
      queuedReason = (await this.issuerLow())
        ? 'The badge issuer is being refilled; your badge is queued and will be minted automatically.'
        : 'Your badge transaction is on its way; it will show up shortly.';
    }
    return { badge: after, ...(queuedReason ? { queuedReason } : {}) };
  }

  /** The checks and the badge row + mint op of a claim, without touching the chain (the processor mints it). */
  async queueClaim(user: DiscordUserRef): Promise<Badge> {
    const issuer = this.issuer();
    if (user.bot) throw new UserError('BOT_USER', 'Bots cannot hold badges.');
    await refuseBlocked(this.db, { self: user.discordId });
    const found = await users.findByDiscordId(this.db, user.discordId);
    const terms = found && (await repo.findVerification(this.db, found.id, this.termsVersion));
    if (!found || !terms) {
      throw new UserError('TERMS_REQUIRED', `Accept the badge terms (version ${this.termsVersion}) first with \`/badge terms\`.`);
    }
    const wallet = await this.walletOf(user.discordId);
    if (!wallet) throw new UserError('NO_WALLET', 'Link a wallet first with `/wallet link` — the badge is minted to your verified wallet.');
    const live = await repo.findCurrentBadge(this.db, found.id);
    if (live && repo.LIVE_STATUSES.includes(live.status)) throw alreadyHas(live);
    await this.recompute(found.id);
    const score = (await repo.findScore(this.db, found.id))!;
    if (tierRank(score.tier) < tierRank(this.config.BADGE_MIN_TIER)) {
      const need = TIERS.find((t) => t.name === this.config.BADGE_MIN_TIER)!;
      throw new UserError('TIER_TOO_LOW', `A badge needs the ${need.name} tier (score ${need.min}); your reputation is ${score.score} (${score.tier}).`);
    }
    const badge = await this.db.transaction().execute(async (trx) => {
      // Again under the row lock: a block committed since the check above wins over the claim.
      await refuseBlocked(trx, { self: user.discordId });
      return repo.insertBadgeWithMintOp(
        trx,
        { userId: found.id, wallet, issuer: issuer.publicKey, termsVersion: this.termsVersion, score: score.score, tier: score.tier },
        (id) => badgeMintAddress(issuer.publicKey, id),
      );
    });
    if (!badge) throw alreadyHas((await repo.findCurrentBadge(this.db, found.id))!);
    this.log?.info({ badgeId: badge.id, mint: badge.mint, userId: found.id }, 'badge claimed');
    return badge;
  }

  /**
   * /badge revoke and the admin API (operators): burns and closes (via the outbox). The request and its audit row
   * (`badge.revoke`) commit together.
   */
  revoke(target: { discordId?: string; badgeId?: bigint }, reason: string, actor: AuditActor, guildId: string | null = null): Promise<Badge> {
    return this.#revoke(target, reason, actor.discordId ?? actor.via, (trx, badge, why) =>
      writeAudit(trx, {
        actor,
        guildId,
        action: 'badge.revoke',
        target: `badge:${badge.id}`,
        before: { status: badge.status, holder: badge.discord_id, mint: badge.mint },
        after: { revokeRequested: true },
        reason: why,
      }),
    );
  }

  async #revoke(
    target: { discordId?: string; badgeId?: bigint },
    reason: string,
    by: string,
    audit?: (trx: Transaction<DB>, badge: Badge, reason: string) => Promise<unknown>,
  ): Promise<Badge> {
    const trimmed = reason.trim();
    if (!trimmed) throw new UserError('REASON_REQUIRED', 'Give a reason for the revocation.');
    let badge: Badge | undefined;
    if (target.badgeId !== undefined) badge = await repo.findBadge(this.db, target.badgeId);
    else if (target.discordId) badge = await this.show(target.discordId);
    if (!badge) throw new UserError('NO_BADGE', 'There is no such badge.');
    if (!repo.LIVE_STATUSES.includes(badge.status)) throw new UserError('ALREADY_REVOKED', `That badge is already ${badge.status}.`);
    const live = badge;
    const why = trimmed.slice(0, 300);
    await this.db.transaction().execute(async (trx) => {
      if (!(await repo.requestRevoke(trx, live.id, why, by))) {
        throw new UserError('ALREADY_REVOKED', 'That badge is already being revoked.');
      }
      await audit?.(trx, live, why);
    });
    this.log?.info({ badgeId: badge.id, by, reason: trimmed }, 'badge revoke requested');
    try {
      await this.processPending();
    } catch (err) {
      this.log?.warn({ err, badgeId: badge.id }, 'badge revoke step failed; the processor retries');
    }
    return (await repo.findBadge(this.db, badge.id))!;
  }

  /** The wallets flow: a member who unlinks their wallet loses the badge minted to it. Never throws for "none". */
  async onWalletUnlinked(discordId: string): Promise<Badge | undefined> {
    const badge = await this.show(discordId);
    if (!badge || !repo.LIVE_STATUSES.includes(badge.status)) return undefined;
    // The member's own unlink, not a privileged action: no audit row.
    return this.#revoke({ badgeId: badge.id }, 'wallet unlinked', 'wallet-unlink');
  }

  // ---------------------------------------------------------------- issuer balance

  /** Reads the issuer's balance, sets the gauges and logs an alert when low. */
  async checkIssuer(): Promise<{ lamports: bigint; low: boolean } | null> {
    if (!this.#issuer) return null;
    const lamports = await getLamports(this.chain.connection, this.#issuer.publicKey);
    const low = lamports < this.config.BADGE_ISSUER_MIN_LAMPORTS;
    this.metrics?.badgeIssuerLamports.set(Number(lamports));
    this.metrics?.badgeIssuerLow.set(low ? 1 : 0);
    if (low) {
      this.log?.error(
        { alert: 'badge-issuer-low', issuer: this.#issuer.publicKey, lamports: lamports.toString(), min: this.config.BADGE_ISSUER_MIN_LAMPORTS.toString() },
        'ALERT badge issuer balance is low; new badge mints wait until it is refilled',
      );
    }
    return { lamports, low };
  }

  private async issuerLow(): Promise<boolean> {
    try {
      return (await this.checkIssuer())?.low ?? false;
    } catch {
      return false;
    }
  }

  // ---------------------------------------------------------------- the processor (job)

  /** Queues revokes that were asked for, then advances every open chain op. */
  async processPending(batch = PROCESS_BATCH): Promise<{ processed: number; confirmed: number; waiting: number; errors: number }> {
    const out = { processed: 0, confirmed: 0, waiting: 0, errors: 0 };
    if (!this.#issuer) return out;
    for (const b of await repo.badgesToRevoke(this.db, batch)) await this.startRevoke(b.id, b.status);
    for (const op of await repo.openOps(this.db, batch)) {
      out.processed += 1;
      try {
        const after = await this.advance(op.id);
        if (after.status === 'confirmed') out.confirmed += 1;
        else out.waiting += 1;
      } catch (err) {
        out.errors += 1;
        this.log?.warn({ err, opId: op.id, kind: op.kind }, 'badge op step failed; retrying next run');
      }
    }
    return out;
  }

  // A revoke before anything was signed cancels the mint; during a mint in flight it waits for the mint to settle.
  private async startRevoke(badgeId: bigint, status: BadgeStatus): Promise<void> {
    if (status === 'queued') {
      const mintOp = await repo.openOpOf(this.db, badgeId, 'mint');
      if (mintOp?.signature) return;
      await this.db.transaction().execute(async (trx) => {
        if (mintOp) await repo.finishOp(trx, mintOp.id, 'canceled', null, 'revoked before minting');
        await repo.setBadgeStatus(trx, badgeId, ['queued'], { status: 'revoked', revoked_at: new Date() });
      });
      return;
    }
    if (status !== 'active') return;
    await this.db.transaction().execute(async (trx) => {
      if (await repo.setBadgeStatus(trx, badgeId, ['active'], { status: 'revoking' })) await repo.enqueueOp(trx, badgeId, 'revoke');
    });
  }

  /**
   * Moves one op as far as it can go now. Two advancers never work on one op at once (session advisory lock,
   * released with a crashed process's connection).
   */
  async advance(opId: bigint): Promise<BadgeOpRow> {
    const run = await withTryAdvisoryLock(this.db, LockNamespace.badgeOp, opId, (lockLost) => this.advanceLocked(opId, lockLost));
    return run.locked ? run.value : (await repo.findOp(this.db, opId))!;
  }

  private async advanceLocked(opId: bigint, lockLost: AbortSignal): Promise<BadgeOpRow> {
    let sentNow: string | null = null;
    let triedSend: string | null = null;
    for (let step = 0; step < MAX_STEPS; step++) {
      const op = (await repo.findOp(this.db, opId))!;
      // The lock went with its connection (a database restart, a terminated session): another advancer may hold the
      // op now, and two would sign or send over each other. Stop at this step boundary; the processor goes on.
      if (lockLost.aborted) return op;
      if (op.status !== 'pending' && op.status !== 'sent') return op;
      if (!op.signature) {
        if (!(await this.sign(op, null))) return (await repo.findOp(this.db, opId))!;
        continue;
      }
      if (op.status === 'pending' && triedSend !== op.signature) {
        triedSend = op.signature;
        if ((await this.send(op)) === 'sent') sentNow = op.signature;
        continue;
      }
      const outcome = await this.reconcile(op, sentNow === op.signature);
      if (outcome === 'resent') sentNow = op.signature;
      else if (outcome === 'waiting' || outcome === 'final') return (await repo.findOp(this.db, opId))!;
    }
    return (await repo.findOp(this.db, opId))!;
  }

  /**
   * Builds and signs the op's transaction over a fresh blockhash and commits it (nothing is sent). Returns false
   * when the op cannot be built now (issuer low: wait) or no longer should be (canceled).
   */
  private async sign(op: BadgeOpRow, replacing: string | null): Promise<boolean> {
    const issuer = this.issuer();
    const badge = (await repo.findBadge(this.db, op.badge_id))!;
    const conn = this.chain.connection;
    let instructions;
    if (op.kind === 'mint') {
      if (badge.revoke_requested_at && !replacing) {
        await this.cancel(op, badge, 'revoked', 'revoked before minting');
        return false;
      }
      // The member may have unlinked or replaced the wallet since claiming: never mint to a wallet they left.
      const wallet = await this.walletOf(badge.discord_id);
      if (wallet !== badge.wallet) {
        await this.cancel(op, badge, 'failed', wallet ? 'wallet changed before minting' : 'wallet unlinked before minting');
        return false;
      }
      const meta = { name: BADGE_NAME, symbol: BADGE_SYMBOL, uri: this.metadataUri(badge.mint!) };
      const rent = await badgeMintRent(conn, meta);
      const holderRent = BigInt(await conn.getMinimumBalanceForRentExemption(HOLDER_ACCOUNT_BYTES, 'confirmed'));
      const balance = await getLamports(conn, issuer.publicKey);
      if (balance < rent + holderRent + FEE_ALLOWANCE) {
        await this.checkIssuer();
        await repo.noteOpFailure(this.db, op.id, `issuer balance ${balance} below the ${rent + holderRent + FEE_ALLOWANCE} lamports a badge needs`);
        return false;
      }
      instructions = buildBadgeMintInstructions(issuer.publicKey, {
        ...meta,
        badgeId: badge.id,
        owner: badge.wallet,
        mintLamports: rent,
        fields: { reputation: bucketed(badge.reputation_score), tier: badge.tier, discord: discordFieldValue(issuerHmac(issuer), badge.discord_id) },
      });
      await repo.setBadgeStatus(this.db, badge.id, ['queued'], { status: 'minting' });
    } else if (op.kind === 'update') {
      if (badge.status !== 'active') {
        await repo.finishOp(this.db, op.id, 'canceled', replacing, `badge is ${badge.status}`);
        return false;
      }
      instructions = buildBadgeFieldUpdateInstructions(issuer.publicKey, badge.mint!, { reputation: op.payload.reputation!, tier: op.payload.tier! });
    } else {
      const onChain = await readBadge(conn, badge.mint!);
      if (!onChain) {
        // Already closed (an earlier revoke landed): nothing left to do.
        await this.confirmed(op, badge);
        return false;
      }
      const holding = await badgeHolderBalance(conn, badge.wallet, badge.mint!);
      instructions = buildBadgeRevokeInstructions(issuer.publicKey, { mint: badge.mint!, holderAccount: holding && holding.amount > 0n ? holding.account : null });
    }
    const signed = signIssuerTransaction(issuer, instructions, await getLatestBlockhash(conn));
    const stored = await repo.storeSignedOp(this.db, op.id, replacing, signed);
    if (!stored) throw new Error(`badge op ${op.id} changed while signing (expected signature ${replacing ?? 'none'})`);
    this.log?.info({ opId: op.id, badgeId: op.badge_id, kind: op.kind, signature: signed.signature, attempt: stored.attempts }, 'badge op signed');
    return true;
  }

  private async send(op: BadgeOpRow): Promise<'sent' | 'not-sent'> {
    try {
      await sendRaw(this.chain.connection, op.serialized_tx!);
    } catch (err) {
      if (!(err instanceof ChainSendError) || err.kind !== 'already-processed') {
        const reason = err instanceof ChainSendError ? `send ${err.kind}: ${describeLogs(err)}` : `send: ${(err as Error).message}`;
        await repo.noteOpFailure(this.db, op.id, reason.slice(0, 500));
        this.log?.warn({ opId: op.id, signature: op.signature, reason }, 'badge op send failed');
        return 'not-sent';
      }
    }
    await repo.markOpSent(this.db, op.id, op.signature!);
    return 'sent';
  }

  /** Decides from the chain, as withdrawals do: the block height is read BEFORE the status. */
  private async reconcile(op: BadgeOpRow, justSent: boolean): Promise<'final' | 'rebuilt' | 'resent' | 'waiting'> {
    const conn = this.chain.connection;
    const badge = (await repo.findBadge(this.db, op.badge_id))!;
    const height = await getBlockHeight(conn);
    const status = await getSignatureStatus(conn, op.signature!);
    if (status.status !== 'not-found') {
      if (status.status === 'processed') return 'waiting';
      if (status.err === null || status.err === undefined) {
        await this.confirmed(op, badge);
        return 'final';
      }
      // Landed failed: the signature is spent, so a rebuild cannot double anything up (the mint is also guarded by
      // its derived address). A mint that failed because the account exists means a badge already stands there.
      if (op.kind === 'mint' && (await this.mintStands(badge))) {
        await this.confirmed(op, badge);
        return 'final';
      }
      return this.retryOrFail(op, badge, `transaction ${op.signature} failed on chain: ${JSON.stringify(status.err)}`);
    }
    const expired = BigInt(height) > op.last_valid_block_height! && !(await isBlockhashValid(conn, op.blockhash!));
    if (!expired) {
      if (justSent) return 'waiting';
      return (await this.send(op)) === 'sent' ? 'resent' : 'waiting';
    }
    return this.retryOrFail(op, badge, `not confirmed after ${op.attempts} attempts`);
  }

  private async mintStands(badge: Badge): Promise<boolean> {
    const onChain = await readBadge(this.chain.connection, badge.mint!);
    return onChain !== null && onChain.supply === 1n && onChain.mintAuthority === null;
  }

  private async retryOrFail(op: BadgeOpRow, badge: Badge, reason: string): Promise<'final' | 'rebuilt' | 'waiting'> {
    if (op.attempts < this.config.BADGE_MAX_ATTEMPTS) {
      return (await this.sign(op, op.signature)) ? 'rebuilt' : 'waiting';
    }
    await this.db.transaction().execute(async (trx) => {
      if (!(await repo.finishOp(trx, op.id, 'failed', op.signature, reason))) return;
      if (op.kind === 'mint') await repo.setBadgeStatus(trx, badge.id, ['queued', 'minting'], { status: 'failed', failure_reason: `mint ${reason}` });
      // A failed revoke goes back to active with its request kept, so the processor queues a fresh one.
      if (op.kind === 'revoke') await repo.setBadgeStatus(trx, badge.id, ['revoking'], { status: 'active' });
    });
    this.log?.warn({ opId: op.id, badgeId: badge.id, kind: op.kind, reason }, 'badge op failed');
    return 'final';
  }

  private async confirmed(op: BadgeOpRow, badge: Badge): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      if (!(await repo.finishOp(trx, op.id, 'confirmed', op.signature))) return;
      if (op.kind === 'mint') {
        await repo.setBadgeStatus(trx, badge.id, ['queued', 'minting'], {
          status: 'active',
          minted_at: new Date(),
          chain_reputation: bucketed(badge.reputation_score),
          chain_tier: badge.tier,
          synced_at: new Date(),
        });
        await repo.recordVerifiedMint(trx, badge.user_id, badge.terms_version, badge.wallet, badge.mint!);
      } else if (op.kind === 'update') {
        await repo.setBadgeStatus(trx, badge.id, ['active'], { chain_reputation: op.payload.reputation!, chain_tier: op.payload.tier!, synced_at: new Date() });
      } else {
        await repo.setBadgeStatus(trx, badge.id, ['revoking'], { status: 'revoked', revoked_at: new Date() });
      }
    });
    this.log?.info({ opId: op.id, badgeId: badge.id, kind: op.kind, signature: op.signature }, 'badge op confirmed');
  }

  private async cancel(op: BadgeOpRow, badge: Badge, status: 'revoked' | 'failed', reason: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      if (!(await repo.finishOp(trx, op.id, 'canceled', null, reason))) return;
      await repo.setBadgeStatus(trx, badge.id, ['queued', 'minting'], {
        status,
        failure_reason: reason,
        ...(status === 'revoked' ? { revoked_at: new Date() } : {}),
      });
    });
  }

  // ---------------------------------------------------------------- sync (job)

  /**
   * Re-writes on-chain fields of badges whose tier or score bucket changed (one update op each, at most `batch`
   * per run; an op already in flight is not doubled), then notices badges their holder burned.
   */
  async sync(opts: { batch?: number } = {}): Promise<{ queued: number; burned: number }> {
    if (!this.#issuer) return { queued: 0, burned: 0 };
    const batch = opts.batch ?? PROCESS_BATCH;
    let queued = 0;
    for (const b of await repo.badgesOutOfSync(this.db, SCORE_BUCKET, batch)) {
      if (await repo.enqueueOp(this.db, b.id, 'update', { reputation: bucketed(b.score), tier: b.tier })) queued += 1;
    }
    let burned = 0;
    let after = 0n;
    for (;;) {
      const page = await repo.activeBadgesAfter(this.db, after, batch);
      if (page.length === 0) break;
      for (const b of page) {
        const holding = await badgeHolderBalance(this.chain.connection, b.wallet, b.mint!);
        if (!holding || holding.amount === 0n) {
          if (await repo.setBadgeStatus(this.db, b.id, ['active'], { status: 'burned', burned_at: new Date() })) {
            burned += 1;
            this.log?.warn({ badgeId: b.id, mint: b.mint }, 'badge burned by its holder; marked, not re-minted');
          }
        }
      }
      after = page[page.length - 1]!.id;
    }
    await this.processPending(batch);
    return { queued, burned };
  }
}

function alreadyHas(badge: Badge): UserError {
  return badge.status === 'active'
    ? new UserError('ALREADY_HAS_BADGE', `You already hold a trust badge (${badge.mint}).`)
    : new UserError('ALREADY_HAS_BADGE', `Your badge is already ${badge.status === 'revoking' ? 'being revoked' : 'on its way'}.`);
}

function describeLogs(err: ChainSendError): string {
  const last = err.logs.filter((l) => /failed|error/i.test(l)).slice(-1)[0];
  return last ? `${err.message} (${last})` : err.message;
}
