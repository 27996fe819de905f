import type { Kysely, Selectable } from 'kysely';
import type { ChainService } from '../../chain/chain.service';
import {
  buildSignedTransfer,
  ChainSendError,
  getBlockHeight,
  getLatestBlockhash,
  getSignatureStatus,
  isBlockhashValid,
  sendRaw,
} from '../../chain/transfers';
import type { Config } from '../../config';
import { LockNamespace, withTryAdvisoryLock } from '../../db/advisory-lock';
import type { DB } from '../../db/schema';
import { UserError } from '../../errors';
import type { Logger } from '../../logger';
import type { Metrics } from '../../metrics';
import { parseAmount } from '../ledger/amounts';
import { BLOCKED_MESSAGE, refuseBlocked } from '../users/blocked';
import type { Currencies, Currency } from '../ledger/currencies';
import { writeAudit, type AuditEventInput } from '../guilds/guilds.audit';
import * as ledger from '../ledger/ledger.postings';
import * as users from '../users/users.accounts';
import type { DiscordUserRef } from '../ledger/ledger.service';
import * as repo from './withdrawals.repository';
import type { WithdrawalsTable, WithdrawMethodsTable } from './withdrawals.tables';

export type Withdrawal = Selectable<WithdrawalsTable> & { discord_id?: string };

/** The audit row of an operator's review (bot-wide money; the guild is only where the button was pressed). */
function reviewAudit(action: string, w: Withdrawal, moderator: DiscordUserRef, guildId: string | null, reason: string | null): AuditEventInput {
  return {
    actor: { discordId: moderator.discordId, via: 'discord' },
    guildId,
    action,
    target: `withdrawal:${w.id}`,
    before: { status: 'requested' },
    after: { status: w.status, amount: w.amount, fee: w.fee, currency: w.currency, member: w.discord_id ?? String(w.user_id) },
    reason,
  };
}
export type WithdrawMethod = Selectable<WithdrawMethodsTable>;

export interface WithdrawalEvent {
  kind: 'confirmed' | 'refunded';
  discordId: string;
  withdrawal: Withdrawal;
  currency: Currency;
}

/** For operators: the bot-wide hourly outflow cap of a currency holds payouts back (sent once per episode). */
export interface PayoutsCappedEvent {
  kind: 'payouts-capped';
  currency: Currency;
  /** Released (not refunded) payouts of the currency in the last hour, base units. */
  releasedLastHour: bigint;
  cap: bigint;
  /** The payout that had to wait. */
  waiting: Withdrawal;
}

/**
 * Must not throw for delivery failures that are final (DMs closed, user gone): it logs those itself. A throw on a
 * member notice means "try again": the notice stays owed and the next processor pass sends it.
 */
export type WithdrawalNotifier = (event: WithdrawalEvent | PayoutsCappedEvent) => Promise<void>;

/** Velocity limits (see README.md beside this file). */
export interface WithdrawalLimits {
  /** Seconds between two withdrawal requests of one member (any currency); 0 = none. */
  cooldownSeconds: number;
  /** A member's withdrawals of a currency in this rolling window add up against the approval threshold. */
  approvalWindowHours: number;
  /** Bot-wide payouts per currency per rolling hour, decimal whole units by code; unlisted = no cap. */
  hourlyCap: Record<string, string>;
}

/** Without configuration: no cooldown and no cap; the rolling 24-hour approval total always applies. */
export const DEFAULT_LIMITS: WithdrawalLimits = { cooldownSeconds: 0, approvalWindowHours: 24, hourlyCap: {} };

export function withdrawalLimitsFromConfig(
  c: Pick<Config, 'WITHDRAW_COOLDOWN_SECONDS' | 'WITHDRAW_APPROVAL_WINDOW_HOURS' | 'WITHDRAW_HOURLY_CAP'>,
): WithdrawalLimits {
  return { cooldownSeconds: c.WITHDRAW_COOLDOWN_SECONDS, approvalWindowHours: c.WITHDRAW_APPROVAL_WINDOW_HOURS, hourlyCap: c.WITHDRAW_HOURLY_CAP };
}

/** Where a member's payouts go: their verified wallet (wallets module), or undefined when none is linked. */
export type DestinationLookup = (discordId: string) => Promise<string | undefined>;

export type ReconcileOutcome = 'confirmed' | 'refunded' | 'rebuilt' | 'resent' | 'waiting';

const PROCESS_BATCH = 100;
/** How long a replica holds a notice it is sending before another may take it (a dead sender's lease runs out). */
const NOTICE_LEASE_SECONDS = 60;
/** A notice whose send keeps failing is given up after this many tries (logged), not retried forever. */
const NOTICE_MAX_ATTEMPTS = 20;
const MAX_STEPS = 10;

/**
 * Withdrawals as a crash-safe outbox. The balance is debited into the withdrawal row (journal `withdraw:<id>`) in
 * one transaction; the payout transaction is built and signed against a recent blockhash, and its signature,
 * wire bytes and last valid block height are COMMITTED before the first send. From then on the only transaction
 * that can pay is that one: it is re-sent byte for byte (same signature, so at most one can land) until it
 * confirms or the cluster's block height passes its last valid height without it having landed. Only then is it
 * replaced — by a new transaction with a fresh blockhash, itself committed before sending — or, after
 * WITHDRAW_MAX_ATTEMPTS, refunded (journal `withdraw_refund:<id>`). A restart in any state resumes from the row.
 *
 * Two advancers never work on one withdrawal at once: each holds a session advisory lock on its id, which a
 * crashed process releases with its connection.
 */
export class WithdrawalsService {
  private methodsSeeded: Promise<void> | undefined;
  private readonly limits: WithdrawalLimits;
  private readonly metrics: Metrics | undefined;
  private readonly hourlyCap: Map<string, bigint>;
  /**
   * Per currency, the payouts the hourly cap holds back right now, as this process saw them: an episode (one alert)
   * starts when the first is held and ends when the last of them is released.
   */
  private readonly held = new Map<string, Set<bigint>>();

  constructor(
    private readonly db: Kysely<DB>,
    private readonly chain: ChainService,
    private readonly currencies: Currencies,
    private readonly destinationOf: DestinationLookup,
    /**
     * `notify`: the member is told about a confirmed or refunded payout, and operators about payouts the hourly cap
     * holds; without it the outcome is only recorded. `limits`: velocity limits (default {@link DEFAULT_LIMITS}).
     */
    private readonly opts: { maxAttempts: number; notify?: WithdrawalNotifier | undefined; limits?: WithdrawalLimits; metrics?: Metrics | undefined },
    private readonly log?: Logger,
  ) {
    this.limits = opts.limits ?? DEFAULT_LIMITS;
    this.metrics = opts.metrics;
    this.hourlyCap = new Map();
    for (const [code, amount] of Object.entries(this.limits.hourlyCap)) {
      const currency = currencies.get(code);
      this.hourlyCap.set(currency.code, parseAmount(amount, currency));
    }
  }

  // ---------------------------------------------------------------- methods (limits)

  /** Configured tokens get default limits on first use (1 / 10,000 / approval above 1,000 whole units). */
  private seedMethods(): Promise<void> {
    this.methodsSeeded ??= repo
      .insertMissingMethods(
        this.db,
        this.currencies.all
          .filter((c) => c.mint)
          .map((c) => {
            const unit = 10n ** BigInt(c.decimals);
            return { currency: c.code, min: unit, max: 10_000n * unit, approvalThreshold: 1_000n * unit };
          }),
      )
      .catch((err: unknown) => {
        this.methodsSeeded = undefined;
        throw err;
      });
    return this.methodsSeeded;
  }

  async methods(): Promise<WithdrawMethod[]> {
    await this.seedMethods();
    return repo.listMethods(this.db);
  }

  async method(code: string): Promise<WithdrawMethod> {
    await this.seedMethods();
    const currency = this.currencies.get(code);
    const m = await repo.findMethod(this.db, currency.code);
    if (!m) throw new UserError('WITHDRAW_UNAVAILABLE', `Withdrawals of ${currency.code} are not available.`);
    return m;
  }

  /** Admin edit of a currency's limits (amounts in base units). */
  async updateMethod(code: string, patch: { enabled?: boolean; min?: bigint; max?: bigint; approvalThreshold?: bigint; fee?: bigint }) {
    const m = await this.method(code);
    const min = patch.min ?? m.min_amount;
    const max = patch.max ?? m.max_amount;
    if (min <= 0n || max < min) throw new UserError('INVALID_LIMITS', 'The minimum must be positive and not above the maximum.');
    return (await repo.updateMethod(this.db, m.currency, patch))!;
  }

  /** Per currency, what members are owed: balances (with open airdrop escrow) and withdrawals not yet final. */
  liabilities(): Promise<Map<string, { balances: bigint; pendingWithdrawals: bigint }>> {
    return repo.liabilities(this.db);
  }

  async pause(currency: string, reason: string): Promise<boolean> {
    await this.seedMethods();
    return repo.pauseMethod(this.db, currency, reason);
  }

  async resume(currency: string): Promise<boolean> {
    return repo.resumeMethod(this.db, currency);
  }

  // ---------------------------------------------------------------- request / review

  /**
   * /withdraw: debits amount + fee into a new withdrawal keyed by the interaction id (a retry returns the first).
   * When the member's withdrawals of the currency in the rolling approval window, this one included, add up to more
   * than the currency's approval threshold, it waits in `requested` for a moderator; otherwise it is `approved` and
   * ready for {@link advance}. The member's row is locked FOR UPDATE first: two requests of one member run one after
   * the other, so neither can slip under the rolling total or the cooldown by racing the other, and a block that
   * lands meanwhile is honoured.
   */
  async request(req: { interactionId: string; user: DiscordUserRef; amount: string; currency?: string | null }): Promise<{ withdrawal: Withdrawal; replayed: boolean }> {
    const { currency, amount } = this.currencies.parse(req.amount, req.currency);
    if (req.user.bot) throw new UserError('BOT_USER', 'Bots cannot withdraw.');
    this.chain.treasury();
    const existing = await repo.findByKey(this.db, req.interactionId);
    if (existing) return { withdrawal: existing, replayed: true };

    await refuseBlocked(this.db, { self: req.user.discordId });
    const m = await this.method(currency.code);
    if (!m.enabled) throw new UserError('WITHDRAW_DISABLED', `Withdrawals of ${currency.code} are disabled.`);
    if (m.paused_at) throw new UserError('WITHDRAW_PAUSED', `Withdrawals of ${currency.code} are paused for a treasury check — try again later.`);
    if (amount < m.min_amount) throw new UserError('AMOUNT_TOO_SMALL', `The minimum withdrawal is ${this.currencies.format(m.min_amount, currency.code)}.`);
    if (amount > m.max_amount) throw new UserError('AMOUNT_TOO_LARGE', `The maximum withdrawal is ${this.currencies.format(m.max_amount, currency.code)}.`);
    const destination = await this.destinationOf(req.user.discordId);
    if (!destination) {
      throw new UserError('NO_WALLET', 'Link a wallet first with `/wallet link` — withdrawals go to your verified wallet.');
    }
    const total = amount + m.fee;

    const result = await this.db.transaction().execute(async (trx) => {
      const userId = await users.ensureId(trx, req.user);
      const me = (await users.lockForUpdate(trx, userId))!;
      if (me.is_blocked) throw new UserError('USER_BLOCKED', BLOCKED_MESSAGE);
      if (await repo.findByKey(trx, req.interactionId)) return undefined;
      if (this.limits.cooldownSeconds > 0) {
        const wait = await repo.cooldownLeft(trx, userId, this.limits.cooldownSeconds);
        if (wait > 0) throw new UserError('WITHDRAW_COOLDOWN', `You can request another withdrawal in ${wait} second${wait === 1 ? '' : 's'}.`);
      }
      const recent = await repo.windowTotal(trx, userId, currency.code, this.limits.approvalWindowHours);
      const inserted = await repo.insertWithdrawal(trx, {
        userId,
        currency: currency.code,
        amount,
        fee: m.fee,
        destination,
        status: recent + amount > m.approval_threshold ? 'requested' : 'approved',
        idempotencyKey: req.interactionId,
      });
      if (!inserted) return undefined;
      const debited = await ledger.postOutflow(trx, {
        type: 'withdrawal',
        userId,
        amount: total,
        currency: currency.code,
        idempotencyKey: `withdraw:${inserted.id}`,
        ref: `withdrawal:${inserted.id} to ${destination}`,
      });
      if (!debited.ok) {
        throw new UserError(
          'INSUFFICIENT_FUNDS',
          `Insufficient funds: this needs ${this.currencies.format(total, currency.code)}${m.fee > 0n ? ' (including the fee)' : ''} but you have ${this.currencies.format(debited.balance, currency.code)}.`,
        );
      }
      return inserted;
    });
    if (!result) return { withdrawal: (await repo.findByKey(this.db, req.interactionId))!, replayed: true };
    this.log?.info({ withdrawalId: result.id, currency: currency.code, amount: amount.toString(), status: result.status }, 'withdrawal requested');
    return { withdrawal: result, replayed: false };
  }

  async get(id: bigint): Promise<Withdrawal | undefined> {
    return repo.findById(this.db, id);
  }

  /** Waiting for a moderator, oldest first. */
  async awaitingReview(limit = 10): Promise<Withdrawal[]> {
    return repo.listByStatus(this.db, ['requested'], limit);
  }

  /** A blocked member's withdrawal cannot be approved (reject refunds it; or unblock first). */
  async approve(id: bigint, moderator: DiscordUserRef, guildId: string | null = null): Promise<Withdrawal> {
    const w = await this.reviewable(id, moderator);
    const approved = await this.db.transaction().execute(async (trx) => {
      if ((await users.blockedAmong(trx, [w.discord_id!])).size > 0) {
        throw new UserError('OWNER_BLOCKED', `The owner of withdrawal #${id} is blocked: reject it to refund them, or unblock them first.`);
      }
      const row = await repo.approve(trx, w.id, moderator.discordId);
      if (row) await writeAudit(trx, reviewAudit('withdrawal.approve', row, moderator, guildId, null));
      return row;
    });
    if (!approved) throw new UserError('ALREADY_REVIEWED', `Withdrawal #${id} was already reviewed.`);
    return approved;
  }

  /** Rejecting refunds the member in full (amount + fee). */
  async reject(id: bigint, moderator: DiscordUserRef, reason?: string | null, guildId: string | null = null): Promise<Withdrawal> {
    const w = await this.reviewable(id, moderator);
    const refunded = await this.refund(
      w,
      ['requested'],
      undefined,
      `rejected by ${moderator.discordId}${reason?.trim() ? `: ${reason.trim().slice(0, 200)}` : ''}`,
      (row) => reviewAudit('withdrawal.reject', row, moderator, guildId, reason ?? null),
    );
    if (!refunded) throw new UserError('ALREADY_REVIEWED', `Withdrawal #${id} was already reviewed.`);
    return refunded;
  }

  private async reviewable(id: bigint, moderator: DiscordUserRef): Promise<Withdrawal> {
    const w = await repo.findById(this.db, id);
    if (!w) throw new UserError('NOT_FOUND', `There is no withdrawal #${id}.`);
    if (w.discord_id === moderator.discordId) throw new UserError('OWN_WITHDRAWAL', 'You cannot review your own withdrawal.');
    if (w.status !== 'requested') throw new UserError('ALREADY_REVIEWED', `Withdrawal #${id} is already ${w.status}.`);
    return w;
  }

  // ---------------------------------------------------------------- the outbox

  /**
   * Moves one withdrawal as far as it can go now (sign → send → confirm, or rebuild/refund when its transaction
   * provably expired). Returns the row afterwards; a non-final status means "look again later" (the
   * withdrawal-processor job does). Skips (returns the row unchanged) when another process is advancing it.
   */
  async advance(id: bigint): Promise<Withdrawal> {
    // The lock is a session lock on the process's lock connection, not on a pooled one, so advancing many withdrawals
    // at once never holds one pooled connection while waiting for a second (see withTryAdvisoryLock). It is not a
    // transaction lock because advancing spans several transactions and RPC round trips (sign, send, confirm).
    const run = await withTryAdvisoryLock(this.db, LockNamespace.withdrawal, id, (lockLost) => this.advanceLocked(id, lockLost));
    return run.locked ? run.value : (await repo.findById(this.db, id))!;
  }

  /** The withdrawal-processor job: advances every withdrawal that is approved and not final. */
  async processPending(batch = PROCESS_BATCH): Promise<{ processed: number; confirmed: number; refunded: number; waiting: number; errors: number }> {
    const out = { processed: 0, confirmed: 0, refunded: 0, waiting: 0, errors: 0 };
    // Owed DMs first (a refund needs no treasury): those a crash left unsent after their commit.
    await this.deliverNotices().catch((err: unknown) => this.log?.warn({ err }, 'withdrawal notices not delivered; retrying next run'));
    if (!this.chain.hasTreasury) return out;
    for (const w of await repo.listByStatus(this.db, ['approved', 'sent', 'failed'], batch)) {
      out.processed += 1;
      try {
        const after = await this.advance(w.id);
        if (after.status === 'confirmed') out.confirmed += 1;
        else if (after.status === 'refunded') out.refunded += 1;
        else out.waiting += 1;
      } catch (err) {
        out.errors += 1;
        this.log?.warn({ err, withdrawalId: w.id }, 'withdrawal step failed; retrying next run');
      }
    }
    return out;
  }

  private async advanceLocked(id: bigint, lockLost: AbortSignal): Promise<Withdrawal> {
    // The signature sent in this call: look once more before waiting, but do not hammer the RPC with re-sends.
    let sentNow: string | null = null;
    // A failed send still moves on to reconcile: the tx may be dead (expired) or merely unsent.
    let triedSend: string | null = null;
    for (let step = 0; step < MAX_STEPS; step++) {
      const w = (await repo.findById(this.db, id))!;
      // Without the lock another process may be advancing it now: stop here, as when it is skipped.
      if (lockLost.aborted) return w;
      if (w.status === 'requested' || w.status === 'confirmed' || w.status === 'refunded') return w;
      if (w.status === 'failed') {
        await this.refund(w, ['failed'], undefined, w.failure_reason ?? 'payout failed');
        continue;
      }
      if (!w.signature) {
        // A solvency pause stops new payout transactions; ones already signed are still seen through.
        const m = await repo.findMethod(this.db, w.currency);
        if (m?.paused_at || m?.enabled === false) return w;
        // A member blocked after approval: their payout waits (unsigned, money held) until they are unblocked.
        if ((await users.blockedAmong(this.db, [w.discord_id!])).size > 0) return w;
        if (!w.released_at && !(await this.release(w))) return w;
        await this.sign(w.id);
        continue;
      }
      if (w.status === 'approved' && triedSend !== w.signature) {
        triedSend = w.signature;
        if ((await this.send(w.id)) === 'sent') sentNow = w.signature;
        continue;
      }
      const outcome = await this.reconcile(w.id, { justSent: sentNow === w.signature });
      if (outcome === 'resent') sentNow = w.signature;
      else if (outcome === 'waiting') return (await repo.findById(this.db, id))!;
    }
    return (await repo.findById(this.db, id))!;
  }

  /**
   * The bot-wide hourly outflow cap: lets the payout go (stamps released_at) when the currency's released payouts of
   * the last hour plus this one stay within the cap — or when nothing went out in the last hour, so a payout larger
   * than the cap is not stuck forever. Otherwise it waits in `approved` (it does not fail) and operators are alerted
   * once per episode. Decided under a lock on the currency's withdraw_methods row, so two processors cannot both
   * squeeze under the cap.
   */
  private async release(w: Withdrawal): Promise<boolean> {
    const cap = this.hourlyCap.get(w.currency);
    const held = this.held.get(w.currency) ?? new Set<bigint>();
    this.held.set(w.currency, held);
    let startsEpisode = false;
    let added = false;
    let r: { released: boolean; releasedLastHour: bigint };
    try {
      r = await this.db.transaction().execute(async (trx) => {
        const decided = await repo.releaseUnderCap(trx, w.id, w.currency, w.amount, cap);
        // Marked held right after the decision (under the currency's lock, no await in between), so of two holds
        // racing in this process only one starts the episode and writes its audit row.
        if (!decided.released && !held.has(w.id)) {
          startsEpisode = held.size === 0;
          held.add(w.id);
          added = true;
          if (startsEpisode) {
            await writeAudit(trx, {
              actor: { discordId: null, via: 'system' },
              guildId: null,
              action: 'withdrawal.payouts_capped',
              target: `currency:${w.currency}`,
              after: { releasedLastHour: decided.releasedLastHour, cap, withdrawalId: w.id },
            });
          }
        }
        return decided;
      });
    } catch (err) {
      if (added) held.delete(w.id);
      throw err;
    }
    if (r.released) {
      if (held.delete(w.id)) {
        this.metrics?.withdrawalsHeldByCap.set({ currency: w.currency }, held.size);
        if (held.size === 0) this.log?.warn({ currency: w.currency }, 'payouts resumed: hourly outflow back under the cap');
      }
      return true;
    }
    this.metrics?.withdrawalCapHolds.inc({ currency: w.currency });
    this.metrics?.withdrawalsHeldByCap.set({ currency: w.currency }, held.size);
    if (startsEpisode) {
      const currency = this.currencies.get(w.currency);
      this.log?.error(
        { currency: w.currency, releasedLastHour: r.releasedLastHour.toString(), cap: cap?.toString(), withdrawalId: w.id },
        'payouts paused: hourly outflow cap reached; payouts wait until the last hour drains',
      );
      await this.notifyOperators({ kind: 'payouts-capped', currency, releasedLastHour: r.releasedLastHour, cap: cap!, waiting: w });
    }
    return false;
  }

  /**
   * Step 1: builds and signs the payout over a fresh blockhash and commits it. `replacing` is the dead
   * transaction's signature when rebuilding. Nothing is sent here.
   */
  async sign(id: bigint, replacing: string | null = null): Promise<Withdrawal> {
    const w = await this.mustGet(id);
    const currency = this.currencies.get(w.currency);
    const treasury = this.chain.treasury();
    const mint = currency.mint ? await this.chain.mintInfo(currency.mint) : undefined;
    const blockhash = await getLatestBlockhash(this.chain.connection);
    const signed = buildSignedTransfer(treasury, {
      recipient: w.destination,
      amount: w.amount,
      ...(mint ? { mint } : {}),
      memo: `solbound withdrawal ${w.id}`,
      ...blockhash,
    });
    const stored = await repo.storeSignedTx(this.db, w.id, replacing, signed);
    if (!stored) throw new Error(`withdrawal ${w.id} changed while signing (expected signature ${replacing ?? 'none'})`);
    this.log?.info({ withdrawalId: w.id, signature: signed.signature, attempt: stored.attempts, replacing }, 'withdrawal signed');
    return stored;
  }

  /** Step 2: sends the stored bytes (again). Safe to repeat: the same bytes can land at most once. */
  async send(id: bigint): Promise<'sent' | 'not-sent'> {
    const w = await this.mustGet(id);
    if (!w.signature || !w.serialized_tx) throw new Error(`withdrawal ${w.id} has no signed transaction`);
    try {
      await sendRaw(this.chain.connection, w.serialized_tx);
    } catch (err) {
      if (!(err instanceof ChainSendError) || err.kind !== 'already-processed') {
        // Not proof of anything: a transport error may hide a delivered tx, and preflight can lag the cluster.
        const reason = err instanceof ChainSendError ? `send ${err.kind}: ${err.message}` : `send: ${(err as Error).message}`;
        await repo.noteFailure(this.db, w.id, reason.slice(0, 500));
        this.log?.warn({ withdrawalId: w.id, signature: w.signature, reason }, 'withdrawal send failed');
        return 'not-sent';
      }
    }
    await repo.markSent(this.db, w.id, w.signature);
    return 'sent';
  }

  /**
   * Step 3: decides from the chain. Landed → confirmed (or refunded if it failed on chain, which consumes the
   * signature). Not landed → resend while the blockhash lives; once the block height is past its last valid
   * height (read BEFORE the status, so nothing can land between the two reads) → rebuild or refund.
   */
  async reconcile(id: bigint, opts: { justSent?: boolean } = {}): Promise<ReconcileOutcome> {
    const w = await this.mustGet(id);
    if (!w.signature || w.last_valid_block_height === null || (w.status !== 'approved' && w.status !== 'sent')) {
      throw new Error(`withdrawal ${w.id} has no transaction in flight`);
    }
    const conn = this.chain.connection;
    const height = await getBlockHeight(conn);
    const status = await getSignatureStatus(conn, w.signature);
    if (status.status !== 'not-found') {
      // A `processed` result (success or failure) can still be rolled back with its fork, and the same bytes land
      // elsewhere: refunding on a processed failure could pay twice. Act only on confirmed results.
      if (status.status === 'processed') return 'waiting';
      if (status.err !== null && status.err !== undefined) {
        const refunded = await this.refund(w, ['approved', 'sent'], w.signature, `payout ${w.signature} failed on chain: ${JSON.stringify(status.err)}`);
        return refunded ? 'refunded' : 'waiting';
      }
      const signature = w.signature;
      const confirmed = await this.db.transaction().execute(async (trx) => {
        const row = await repo.markConfirmed(trx, w.id, signature);
        if (row) await repo.enqueueNotice(trx, row.id, 'confirmed');
        return row;
      });
      if (confirmed) {
        this.log?.info({ withdrawalId: w.id, signature }, 'withdrawal confirmed');
        await this.deliverNotices(w.id);
      }
      return 'confirmed';
    }
    const expired = BigInt(height) > w.last_valid_block_height && !(await isBlockhashValid(conn, w.blockhash!));
    if (!expired) {
      if (opts.justSent) return 'waiting';
      return (await this.send(w.id)) === 'sent' ? 'resent' : 'waiting';
    }
    if (w.attempts < this.opts.maxAttempts) {
      await this.sign(w.id, w.signature);
      return 'rebuilt';
    }
    const refunded = await this.refund(w, ['approved', 'sent'], w.signature, `payout not confirmed after ${w.attempts} attempts`);
    return refunded ? 'refunded' : 'waiting';
  }

  /** Credits amount + fee back; only from `from` and, when given, while `signature` is still the one in flight. */
  private async refund(
    w: Withdrawal,
    from: Withdrawal['status'][],
    signature: string | null | undefined,
    reason: string,
    audit?: (row: Withdrawal) => AuditEventInput,
  ): Promise<Withdrawal | undefined> {
    const refunded = await this.db.transaction().execute(async (trx) => {
      const row = await repo.markRefunded(trx, w.id, from, signature, reason);
      if (!row) return undefined;
      await repo.enqueueNotice(trx, row.id, 'refunded');
      if (audit) await writeAudit(trx, audit({ ...row, ...(w.discord_id ? { discord_id: w.discord_id } : {}) }));
      const total = row.amount + row.fee;
      await ledger.postInflow(trx, {
        type: 'withdrawal_refund',
        userId: row.user_id,
        amount: total,
        currency: row.currency,
        idempotencyKey: `withdraw_refund:${row.id}`,
        ref: `withdrawal:${row.id}`,
      });
      return row;
    });
    if (!refunded) return undefined;
    const out: Withdrawal = { ...refunded, ...(w.discord_id ? { discord_id: w.discord_id } : {}) };
    this.log?.warn({ withdrawalId: w.id, reason }, 'withdrawal refunded');
    await this.deliverNotices(w.id);
    return out;
  }

  /**
   * Sends owed member notices (of one withdrawal, or any): at-least-once. The notice was written with the final
   * status, so a crash before the DM leaves it owed and the next pass sends it; a crash after the DM but before the
   * sent mark sends it once more. Without a notifier (a process with no Discord) notices stay owed for one that has.
   */
  async deliverNotices(withdrawalId?: bigint): Promise<number> {
    const notify = this.opts.notify;
    if (!notify) return 0;
    const due = await repo.claimNotices(this.db, { leaseSeconds: NOTICE_LEASE_SECONDS, limit: PROCESS_BATCH, ...(withdrawalId === undefined ? {} : { withdrawalId }) });
    let sent = 0;
    for (const n of due) {
      const w = await repo.findById(this.db, n.withdrawal_id);
      try {
        if (w?.discord_id) await notify({ kind: n.kind, discordId: w.discord_id, withdrawal: w, currency: this.currencies.get(w.currency) });
        await repo.markNoticeSent(this.db, n.withdrawal_id, n.kind);
        sent += 1;
      } catch (err) {
        const giveUp = n.attempts >= NOTICE_MAX_ATTEMPTS;
        this.log?.warn({ err, withdrawalId: n.withdrawal_id, kind: n.kind, attempts: n.attempts, giveUp }, 'withdrawal notification failed');
        await (giveUp ? repo.markNoticeSent(this.db, n.withdrawal_id, n.kind) : repo.releaseNotice(this.db, n.withdrawal_id, n.kind));
      }
    }
    return sent;
  }

  private async notifyOperators(event: PayoutsCappedEvent): Promise<void> {
    try {
      await this.opts.notify?.(event);
    } catch (err) {
      this.log?.warn({ err, currency: event.currency.code }, 'operator alert failed');
    }
  }

  private async mustGet(id: bigint): Promise<Withdrawal> {
    const w = await repo.findById(this.db, id);
    if (!w) throw new Error(`withdrawal ${id} does not exist`);
    return w;
  }
}
