import type { Kysely, Selectable } from 'kysely';
import type { Config } from '../../config';
import type { DB } from '../../db/schema';
import { ledgerFailure, retryOnSerialization } from '../../db/pg-errors';
import { UserError } from '../../errors';
import { parseAmount } from './amounts';
import { Currencies, type Currency } from './currencies';
import * as repo from './ledger.repository';
import * as users from '../users/users.accounts';
import { writeAudit } from '../guilds/guilds.audit';
import { blockedError, refuseBlocked } from '../users/blocked';
import type { AirdropsTable, JournalType, TipKind } from './ledger.tables';

/** A Discord account as the ledger sees it; `bot` accounts can neither send nor receive. */
export interface DiscordUserRef {
  discordId: string;
  username: string;
  bot?: boolean;
}

export interface TipRequest {
  /** The Discord interaction id: a retried interaction returns the first result and moves nothing. */
  interactionId: string;
  sender: DiscordUserRef;
  receivers: DiscordUserRef[];
  /** Total, as typed ("1.5") or in base units; split equally, the indivisible remainder stays with the sender. */
  amount: string | bigint;
  currency?: string | null;
  note?: string | null;
  kind?: TipKind;
  /** Where it was sent (feeds the per-guild /leaderboard); null or absent in DMs. */
  guildId?: string | null;
  /**
   * A partner-API tip's Idempotency-Key, claimed in the tip's own transaction: the same key with another body is
   * IDEMPOTENCY_KEY_REUSED, and receivers must already be known (UNKNOWN_USER); a failed tip frees the key.
   */
  apiKey?: ApiTipKey;
}

export interface ApiTipKey {
  environmentId: bigint;
  key: string;
  /** Hash of the request body: the key stands for exactly this request. */
  bodyHash: string;
}

export interface TipResult {
  replayed: boolean;
  tipIds: bigint[];
  currency: Currency;
  /** What each receiver got. */
  each: bigint;
  /** What left the sender: each × receivers. */
  total: bigint;
  senderBalance: bigint;
  receivers: DiscordUserRef[];
}

export type TipOutcome =
  | { status: 'done'; result: TipResult }
  | {
      status: 'confirm';
      confirmationId: bigint;
      total: bigint;
      each: bigint;
      currency: Currency;
      receivers: DiscordUserRef[];
      /** Set when the prompt is because the same tip was applied moments ago (its time); see REPEAT_TIP_WINDOW_SECONDS. */
      repeatOf?: Date;
    };

export interface HistoryEntry {
  id: bigint;
  type: JournalType;
  direction: 'in' | 'out';
  amount: bigint;
  currency: string;
  /** Discord id of the other side; null for inflows/outflows with no user (admin credit, airdrop escrow). */
  counterparty: string | null;
  ref: string | null;
  createdAt: Date;
}

export interface HistoryPage {
  entries: HistoryEntry[];
  page: number;
  pages: number;
  total: number;
  /** The user has more than HISTORY_COUNT_CAP entries: total and pages are lower bounds. */
  capped?: boolean;
  /** Older entries exist (Next is enabled). Absent for a user with no history. */
  more?: boolean;
}

export type LeaderboardPeriod = repo.BoardPeriod;
export type Airdrop = Selectable<AirdropsTable>;

/**
 * Discord side effects of work that runs without an interaction (the airdrop-expiry job): a port the composition root
 * builds from the Discord client (ledger.discord.ts) and hands to jobs through `ctx.effects`.
 */
export interface AirdropEffects {
  /** Shows on the airdrop's message that it ended (claim count, disabled Claim button). */
  airdropClosed(airdrop: Airdrop): Promise<void>;
}

export const MAX_RECIPIENTS = 25;
const NOTE_MAX = 200;
const CONFIRM_TTL_MS = 5 * 60_000;
/** A /tip identical to one the sender applied this recently asks before sending (a likely retry of an unanswered one). */
export const REPEAT_TIP_WINDOW_SECONDS = 60;
/** Decided or expired tip confirmations are kept this long after expiry (for support), then deleted. */
const CONFIRM_RETENTION = '1 day';
const CONFIRM_CLEANUP_BATCH = 5000;
/** Owners whose credits one ledger_fold() transaction folds (their balance rows are locked until it commits). */
const FOLD_BATCH = 500;
/** Time span of tip legs one fold transaction takes when catching up (at 1,000 tips/s: 300,000 legs). */
const FOLD_TIPS_SPAN = '5 minutes';

/** How far back /rain looks for active members. */
export const RAIN_ACTIVE_WINDOW_MS = 24 * 3_600_000;
export const MAX_RAIN_COUNT = 25;
export const MAX_AIRDROP_CLAIMS = 1000;
export const MAX_AIRDROP_SECONDS = 7 * 86_400;
export const HISTORY_PAGE_SIZE = 10;
/** /history counts entries up to this (500 pages); a busier member sees "5000+". */
export const HISTORY_COUNT_CAP = 5000;

interface StoredTipRequest {
  sender: DiscordUserRef;
  receivers: DiscordUserRef[];
  amount: string;
  currency: string;
  note: string | null;
  kind: TipKind;
  /** Absent in requests stored before tips recorded their guild. */
  guildId?: string | null;
}

/**
 * Balances, tips, airdrops and rain. Every balance change is a journal entry in the same transaction and every
 * externally triggered change carries an idempotency key (the Discord interaction id). Serialization failures and
 * deadlocks are retried here and never reach the user.
 */
export class LedgerService {
  readonly currencies: Currencies;
  private readonly confirmAbove: Map<string, bigint>;
  constructor(
    private readonly db: Kysely<DB>,
    config: Pick<Config, 'LEDGER_TOKENS' | 'TIP_CONFIRM_ABOVE'>,
  ) {
    this.currencies = Currencies.fromConfig(config);
    this.confirmAbove = new Map();
    for (const [code, amount] of Object.entries(config.TIP_CONFIRM_ABOVE)) {
      const currency = this.currencies.get(code);
      this.confirmAbove.set(currency.code, parseAmount(amount, currency));
    }
  }

  format(amount: bigint, currency: string): string {
    return this.currencies.format(amount, currency);
  }

  /** Every currency, zero when the user never held it. */
  async balances(user: DiscordUserRef): Promise<Array<{ currency: Currency; amount: bigint }>> {
    const found = await users.findByDiscordId(this.db, user.discordId);
    const rows = found ? await repo.balancesOf(this.db, found.id) : [];
    const held = new Map(rows.map((r) => [r.currency, r.amount]));
    return this.currencies.all.map((currency) => ({ currency, amount: held.get(currency.code) ?? 0n }));
  }

  async balance(discordId: string, currency: string): Promise<bigint> {
    const found = await users.findByDiscordId(this.db, discordId);
    return found ? repo.balanceOf(this.db, found.id, this.currencies.get(currency).code) : 0n;
  }

  /**
   * Executes the tip now, whatever its size (the confirmation step is `requestTip`'s business). One round trip:
   * ledger_tip() also refuses blocked members and claims a partner-API key.
   */
  async tip(req: TipRequest): Promise<TipResult> {
    const plan = this.planTip(req);
    return this.executeTip(req.interactionId, plan, req.apiKey);
  }

  /**
   * /tip: large totals, and a repeat of a tip the sender applied in the last REPEAT_TIP_WINDOW_SECONDS, wait for a
   * Confirm click (see confirmTip); the rest executes at once. `recordActivity`: the sender counts as active in
   * `guildId` (for /rain, as every command does), recorded in the same round trip as the threshold and repeat checks,
   * so a plain /tip costs two round trips: that one and ledger_tip().
   */
  async requestTip(req: TipRequest & { recordActivity?: boolean }): Promise<TipOutcome> {
    const activeIn = req.recordActivity && req.guildId && !req.sender.bot ? req.guildId : null;
    let plan: ReturnType<LedgerService['planTip']>;
    try {
      plan = this.planTip(req);
    } catch (err) {
      // A refused /tip is still the member using the bot.
      if (activeIn) await this.touchActivity(activeIn, req.sender);
      throw err;
    }
    // A member whose earlier /tip went through but was never answered (the bot died before the reply) may retry it:
    // asking first keeps a retry from paying twice. A replayed interaction is not a repeat of itself.
    const check = await repo.tipPrecheck(this.db, {
      sender: plan.sender,
      activeIn,
      currency: plan.currency.code,
      ...(plan.kind === 'tip'
        ? {
            repeat: {
              receiverDiscordIds: plan.receivers.map((r) => r.discordId),
              each: plan.each,
              withinSeconds: REPEAT_TIP_WINDOW_SECONDS,
              excludeInteractionId: req.interactionId,
            },
          }
        : {}),
    });
    const threshold = check.confirmAbove ?? this.confirmAbove.get(plan.currency.code);
    const repeatOf = check.repeatAt ?? undefined;
    if (!repeatOf && (threshold === undefined || plan.total <= threshold)) {
      return { status: 'done', result: await this.executeTip(req.interactionId, plan, req.apiKey) };
    }
    // No prompt for a tip that would be refused (ledger_tip() checks again on Confirm).
    await refuseBlocked(this.db, { self: plan.sender.discordId, others: plan.receivers });
    // Asking to confirm what cannot be paid would only fail later; ledger_tip() still re-checks on Confirm.
    const have = await this.balance(req.sender.discordId, plan.currency.code);
    if (have < plan.total) throw this.insufficient(have, plan.total, plan.currency);
    const stored: StoredTipRequest = {
      sender: strip(req.sender),
      receivers: plan.receivers.map(strip),
      amount: plan.total.toString(),
      currency: plan.currency.code,
      note: plan.note,
      kind: plan.kind,
      guildId: plan.guildId,
    };
    const row = await repo.upsertConfirmation(this.db, {
      interactionId: req.interactionId,
      senderDiscordId: req.sender.discordId,
      request: stored,
      expiresAt: new Date(Date.now() + CONFIRM_TTL_MS),
    });
    return {
      status: 'confirm',
      confirmationId: row.id,
      total: plan.total,
      each: plan.each,
      currency: plan.currency,
      receivers: plan.receivers,
      ...(repeatOf ? { repeatOf } : {}),
    };
  }

  /** The member's own confirmation threshold for the currency, else the TIP_CONFIRM_ABOVE default (undefined = never ask). */
  async confirmThreshold(discordId: string, currency: string): Promise<bigint | undefined> {
    const code = this.currencies.get(currency).code;
    return (await repo.confirmAboveOf(this.db, discordId, code)) ?? this.confirmAbove.get(code);
  }

  /** Tips whose total is above `amount` will ask this member to confirm ("0" = always ask). */
  async setConfirmThreshold(user: DiscordUserRef, amount: string, currency?: string | null): Promise<{ currency: Currency; amount: bigint }> {
    const c = this.currencies.get(currency);
    const value = amount.trim() === '0' ? 0n : parseAmount(amount, c);
    const userId = await users.ensureId(this.db, user);
    await repo.setConfirmAbove(this.db, userId, c.code, value);
    return { currency: c, amount: value };
  }

  /** Runs a pending large tip; a second click returns the same result. Only the sender may confirm. */
  async confirmTip(confirmationId: bigint, clicker: DiscordUserRef): Promise<TipResult> {
    const existing = await repo.findConfirmation(this.db, confirmationId);
    if (!existing) throw new UserError('CONFIRMATION_NOT_FOUND', 'This tip confirmation no longer exists.');
    if (existing.sender_discord_id !== clicker.discordId) throw new UserError('NOT_YOUR_TIP', 'Only the sender can confirm this tip.');
    if (existing.status === 'canceled') throw new UserError('TIP_CANCELED', 'This tip was canceled.');
    const stored = existing.request as StoredTipRequest;
    const plan = this.planTip({ ...stored, interactionId: existing.interaction_id, amount: BigInt(stored.amount) });
    return this.retrying(() =>
      this.db.transaction().execute(async (trx) => {
        // Before marking: a refused confirmation stays pending (nothing changes), and the FOR SHARE locks order it
        // against a block landing now.
        await refuseBlocked(trx, { self: plan.sender.discordId, others: plan.receivers });
        const marked = await repo.markConfirmed(trx, confirmationId, clicker.discordId);
        if (!marked) throw new UserError('CONFIRMATION_EXPIRED', 'This confirmation expired — run /tip again.');
        const row = await repo.tip(trx, this.tipArgs(existing.interaction_id, plan));
        return this.tipResult(row, plan);
      }),
      plan,
    );
  }

  async cancelTip(confirmationId: bigint, clicker: DiscordUserRef): Promise<void> {
    const existing = await repo.findConfirmation(this.db, confirmationId);
    if (!existing) throw new UserError('CONFIRMATION_NOT_FOUND', 'This tip confirmation no longer exists.');
    if (existing.sender_discord_id !== clicker.discordId) throw new UserError('NOT_YOUR_TIP', 'Only the sender can cancel this tip.');
    const canceled = await repo.markCanceled(this.db, confirmationId, clicker.discordId);
    if (!canceled) throw new UserError('TIP_ALREADY_SENT', 'This tip was already confirmed and sent.');
  }

  /** /rain: the total is split among the `count` members most recently active in this guild (see RAIN_ACTIVE_WINDOW_MS). */
  async rain(req: { interactionId: string; guildId: string; sender: DiscordUserRef; amount: string; currency?: string | null; count: number }): Promise<TipResult> {
    if (!Number.isInteger(req.count) || req.count < 1 || req.count > MAX_RAIN_COUNT) {
      throw new UserError('INVALID_COUNT', `Rain on 1 to ${MAX_RAIN_COUNT} members.`);
    }
    const { currency, amount } = this.currencies.parse(req.amount, req.currency);
    if (req.sender.bot) throw new UserError('BOT_SENDER', 'Bots cannot send tips.');
    await refuseBlocked(this.db, { self: req.sender.discordId });
    const sender = await users.findByDiscordId(this.db, req.sender.discordId);
    const since = new Date(Date.now() - RAIN_ACTIVE_WINDOW_MS);
    const active = sender ? await repo.recentlyActive(this.db, req.guildId, sender.id, since, req.count) : [];
    if (active.length === 0) throw new UserError('NOBODY_ACTIVE', 'Nobody else has been active here in the last 24 hours — no one to rain on.');
    return this.tip({
      interactionId: req.interactionId,
      sender: req.sender,
      receivers: active.map((a) => ({ discordId: a.discord_id, username: a.username })),
      amount,
      currency: currency.code,
      kind: 'rain',
      guildId: req.guildId,
    });
  }

  /** Sandbox/ops funding: an external inflow, journalled as admin_credit, idempotent on `idempotencyKey`. */
  async adminCredit(req: {
    idempotencyKey: string;
    user: DiscordUserRef;
    amount: string;
    currency?: string | null;
    reason?: string | null;
    actor: DiscordUserRef;
    /** Where the operator ran it (audit context only: balances are bot-wide). */
    guildId?: string | null;
  }) {
    const { currency, amount } = this.currencies.parse(req.amount, req.currency);
    if (req.user.bot) throw new UserError('BOT_RECEIVER', 'Bots cannot hold a balance.');
    const reason = req.reason?.trim().slice(0, NOTE_MAX) || null;
    return this.retrying(() =>
      this.db.transaction().execute(async (trx) => {
        const userId = await users.ensureId(trx, req.user);
        const journalId = await repo.insertJournal(trx, {
          type: 'admin_credit',
          fromUserId: null,
          toUserId: userId,
          amount,
          currency: currency.code,
          idempotencyKey: `admin_credit:${req.idempotencyKey}`,
          ref: `by ${req.actor.discordId}${reason ? `: ${reason}` : ''}`,
        });
        if (journalId === undefined) return { replayed: true, currency, amount, balance: await repo.balanceOf(trx, userId, currency.code) };
        const balance = await repo.credit(trx, userId, currency.code, amount);
        await writeAudit(trx, {
          actor: { discordId: req.actor.discordId, via: 'discord' },
          guildId: req.guildId ?? null,
          action: 'ledger.admin_credit',
          target: `user:${req.user.discordId}`,
          after: { amount, currency: currency.code, journal_id: journalId, balance },
          reason,
        });
        return { replayed: false, currency, amount, balance };
      }),
    );
  }

  /**
   * One page of the user's history, newest first. Buttons pass a cursor (keyset: every page costs what page 1 costs);
   * a bare page number (/history page:N) is found by walking ids from the newest, bounded by HISTORY_COUNT_CAP. The
   * total is counted up to that cap; above it `capped` is set and the page count is a lower bound.
   */
  async history(user: DiscordUserRef, page: number, cursor?: repo.HistoryCursor): Promise<HistoryPage> {
    const found = await users.findByDiscordId(this.db, user.discordId);
    if (!found) return { entries: [], page: 1, pages: 1, total: 0 };
    const counted = await repo.historyCount(this.db, found.id, HISTORY_COUNT_CAP);
    const capped = counted > HISTORY_COUNT_CAP;
    const total = Math.min(counted, HISTORY_COUNT_CAP);
    const pages = Math.max(1, Math.ceil(total / HISTORY_PAGE_SIZE));
    let p = Math.max(1, Math.trunc(page) || 1);
    let at = cursor;
    if (!at) {
      p = Math.min(p, pages);
      const before = p > 1 ? await repo.historyIdAt(this.db, found.id, (p - 1) * HISTORY_PAGE_SIZE - 1) : undefined;
      if (before !== undefined) at = { before };
      else p = 1;
    }
    const backwards = at !== undefined && 'after' in at;
    // One row more than a page going back in time tells whether Next has anything; going forward (Prev), it does.
    const fetched = await repo.historyPage(this.db, found.id, HISTORY_PAGE_SIZE + (backwards ? 0 : 1), at);
    const more = backwards || fetched.length > HISTORY_PAGE_SIZE;
    const rows = fetched.slice(0, HISTORY_PAGE_SIZE);
    const entries = rows.map((r): HistoryEntry => {
      const out = r.from_user_id === found.id;
      return {
        id: r.id,
        type: r.type,
        direction: out ? 'out' : 'in',
        amount: r.amount,
        currency: r.currency,
        counterparty: out ? r.to_discord_id : r.from_discord_id,
        ref: r.ref,
        createdAt: r.created_at,
      };
    });
    return { entries, page: p, pages: capped ? Math.max(pages, more ? p + 1 : p) : pages, total, ...(capped ? { capped } : {}), more };
  }

  /** Top senders of tips and rain in the period: those sent in `guildId`, or bot-wide when it is null (DMs). */
  async leaderboard(currency: string | null | undefined, period: LeaderboardPeriod, guildId: string | null = null, limit = 10) {
    const c = this.currencies.get(currency);
    const today = new Date().toISOString().slice(0, 10);
    const rows = await repo.topTippers(this.db, c.code, period, guildId, limit, today);
    return { currency: c, period, guildId, rows: rows.map((r) => ({ discordId: r.discord_id, username: r.username, total: BigInt(r.total), tips: Number(r.tips) })) };
  }

  /** Marks the user as active in the guild (feeds /rain). */
  async touchActivity(guildId: string, user: DiscordUserRef): Promise<void> {
    if (user.bot) return;
    const userId = await users.ensureId(this.db, user);
    await repo.touchActivity(this.db, guildId, userId);
  }

  // ---------------------------------------------------------------- airdrops

  /**
   * Escrows per-claim × claims from the creator into a new airdrop (the amount is the total; what does not divide
   * evenly stays with the creator). Idempotent on the interaction id.
   */
  async createAirdrop(req: {
    interactionId: string;
    creator: DiscordUserRef;
    amount: string;
    currency?: string | null;
    claims: number;
    durationSeconds: number;
    guildId: string | null;
    channelId: string | null;
  }): Promise<{ airdrop: Airdrop; replayed: boolean; currency: Currency }> {
    const { currency, amount } = this.currencies.parse(req.amount, req.currency);
    if (req.creator.bot) throw new UserError('BOT_SENDER', 'Bots cannot create airdrops.');
    if (!Number.isInteger(req.claims) || req.claims < 1 || req.claims > MAX_AIRDROP_CLAIMS) {
      throw new UserError('INVALID_CLAIMS', `Claims must be a whole number from 1 to ${MAX_AIRDROP_CLAIMS}.`);
    }
    if (!Number.isFinite(req.durationSeconds) || req.durationSeconds < 10 || req.durationSeconds > MAX_AIRDROP_SECONDS) {
      throw new UserError('INVALID_DURATION', 'The duration must be between 10 seconds and 7 days.');
    }
    const perClaim = amount / BigInt(req.claims);
    if (perClaim === 0n) {
      throw new UserError('AMOUNT_TOO_SMALL', `${this.format(amount, currency.code)} is too small to split into ${req.claims} claims.`);
    }
    return this.retrying(() =>
      this.db.transaction().execute(async (trx) => {
        const creatorId = await users.ensureId(trx, req.creator);
        await refuseBlocked(trx, { self: req.creator.discordId });
        const inserted = await repo.insertAirdrop(trx, {
          interactionId: req.interactionId,
          creatorId,
          currency: currency.code,
          perClaim,
          claims: req.claims,
          expiresAt: new Date(Date.now() + req.durationSeconds * 1000),
          guildId: req.guildId,
          channelId: req.channelId,
        });
        if (!inserted) {
          const airdrop = (await repo.findAirdropByInteraction(trx, req.interactionId))!;
          return { airdrop, replayed: true, currency: this.currencies.get(airdrop.currency) };
        }
        const total = inserted.total_amount;
        if ((await repo.debit(trx, creatorId, currency.code, total)) === undefined) {
          await this.throwInsufficient(trx, creatorId, currency, total);
        }
        await repo.insertJournal(trx, {
          type: 'airdrop_escrow',
          fromUserId: creatorId,
          toUserId: null,
          amount: total,
          currency: currency.code,
          idempotencyKey: `airdrop_escrow:${req.interactionId}`,
          ref: `airdrop:${inserted.id}`,
        });
        return { airdrop: inserted, replayed: false, currency };
      }),
    );
  }

  getAirdrop(id: bigint): Promise<Airdrop | undefined> {
    return repo.findAirdrop(this.db, id);
  }

  setAirdropMessage(id: bigint, channelId: string, messageId: string): Promise<void> {
    return repo.setAirdropMessage(this.db, id, channelId, messageId);
  }

  /** One claim per user; pays per_claim_amount out of the escrow. */
  async claimAirdrop(airdropId: bigint, user: DiscordUserRef): Promise<{ airdrop: Airdrop; amount: bigint; currency: Currency }> {
    if (user.bot) throw new UserError('BOT_RECEIVER', 'Bots cannot claim airdrops.');
    return this.retrying(() =>
      this.db.transaction().execute(async (trx) => {
        const current = await repo.findAirdrop(trx, airdropId);
        if (!current) throw new UserError('AIRDROP_NOT_FOUND', 'This airdrop does not exist.');
        const userId = await users.ensureId(trx, user);
        await refuseBlocked(trx, { self: user.discordId });
        if (current.creator_id === userId) throw new UserError('OWN_AIRDROP', 'You cannot claim your own airdrop.');
        if (!(await repo.insertClaim(trx, airdropId, userId, current.per_claim_amount))) {
          throw new UserError('ALREADY_CLAIMED', 'You already claimed this airdrop.');
        }
        const airdrop = await repo.takeClaimSlot(trx, airdropId);
        if (!airdrop) {
          const latest = (await repo.findAirdrop(trx, airdropId))!;
          if (latest.claims_made >= latest.claims_allowed) throw new UserError('AIRDROP_EMPTY', 'All claims of this airdrop are taken.');
          throw new UserError('AIRDROP_EXPIRED', 'This airdrop has expired.');
        }
        const amount = airdrop.per_claim_amount;
        await repo.credit(trx, userId, airdrop.currency, amount);
        await repo.insertJournal(trx, {
          type: 'airdrop_claim',
          fromUserId: null,
          toUserId: userId,
          amount,
          currency: airdrop.currency,
          idempotencyKey: `airdrop_claim:${airdropId}:${userId}`,
          ref: `airdrop:${airdropId}`,
        });
        return { airdrop, amount, currency: this.currencies.get(airdrop.currency) };
      }),
    );
  }

  /**
   * Refunds the unclaimed rest of every expired open airdrop to its creator. Returns the airdrops it closed, as
   * committed (the caller shows them as ended in Discord: see AirdropEffects).
   */
  async expireAirdrops(batch = 500): Promise<Airdrop[]> {
    const closed: Airdrop[] = [];
    for (;;) {
      const rows = await this.retrying(() => this.db.transaction().execute((trx) => repo.expireAirdrops(trx, batch)));
      closed.push(...rows);
      if (rows.length < batch) return closed;
    }
  }

  /**
   * Folds unfolded credits (hot receivers' tips) into balance rows, `FOLD_BATCH` owners per transaction, until none
   * are left or `maxBatches` ran. Safe beside live tips and debits: see ledger_fold() and the README.
   */
  async foldCredits(maxBatches = 20): Promise<number> {
    let total = 0;
    for (let i = 0; i < maxBatches; i++) {
      const n = await this.retrying(() => repo.foldCredits(this.db, FOLD_BATCH));
      total += n;
      if (n === 0) break;
    }
    return total;
  }

  /**
   * Folds committed tip legs from the journal into the leaderboard aggregates (ledger_fold_tips()) up to the safe
   * horizon, `FOLD_TIPS_SPAN` of time per transaction, until caught up or `maxBatches` ran; then summarizes the
   * journal's BRIN ranges behind its end so the boards' unfolded tail stays short. Returns the legs folded.
   */
  async rollupTipTotals(maxBatches = 50): Promise<number> {
    let total = 0n;
    for (let i = 0; i < maxBatches; i++) {
      const r = await this.retrying(() => repo.foldTipTotals(this.db, FOLD_TIPS_SPAN));
      total += BigInt(r.folded);
      if (r.caught_up) break;
    }
    await repo.summarizeJournalBrin(this.db);
    return Number(total);
  }

  /** Deletes tip confirmations that expired more than a day ago (pending, confirmed or canceled). Returns how many. */
  async cleanupConfirmations(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await repo.deleteExpiredConfirmations(this.db, CONFIRM_RETENTION, CONFIRM_CLEANUP_BATCH);
      total += n;
      if (n < CONFIRM_CLEANUP_BATCH) return total;
    }
  }

  // ---------------------------------------------------------------- internals

  private planTip(req: TipRequest) {
    const currency = this.currencies.get(req.currency);
    const total = typeof req.amount === 'bigint' ? req.amount : parseAmount(req.amount, currency);
    if (total <= 0n) throw new UserError('INVALID_AMOUNT', 'The amount must be greater than zero.');
    if (req.sender.bot) throw new UserError('BOT_SENDER', 'Bots cannot send tips.');
    const unique = [...new Map(req.receivers.map((r) => [r.discordId, r])).values()];
    if (unique.length === 0) throw new UserError('NO_RECIPIENT', 'Mention at least one member to tip.');
    if (unique.length > MAX_RECIPIENTS) throw new UserError('TOO_MANY_RECIPIENTS', `Tip at most ${MAX_RECIPIENTS} members at once.`);
    if (unique.some((r) => r.discordId === req.sender.discordId)) throw new UserError('SELF_TIP', 'You cannot tip yourself.');
    const bot = unique.find((r) => r.bot);
    if (bot) throw new UserError('BOT_RECEIVER', `${bot.username} is a bot — bots cannot receive tips.`);
    const each = total / BigInt(unique.length);
    if (each === 0n) {
      throw new UserError('AMOUNT_TOO_SMALL', `${this.format(total, currency.code)} is too small to split between ${unique.length} members.`);
    }
    const note = req.note?.trim() ? req.note.trim().slice(0, NOTE_MAX) : null;
    return {
      currency,
      total: each * BigInt(unique.length),
      each,
      sender: strip(req.sender),
      receivers: unique.map(strip),
      note,
      kind: req.kind ?? ('tip' as TipKind),
      guildId: req.guildId ?? null,
    };
  }

  private tipArgs(interactionId: string, plan: ReturnType<LedgerService['planTip']>, apiKey?: ApiTipKey) {
    return {
      apiKey,
      interactionId,
      kind: plan.kind,
      currency: plan.currency.code,
      each: plan.each,
      note: plan.note,
      sender: plan.sender,
      receivers: plan.receivers,
      guildId: plan.guildId,
    };
  }

  private async executeTip(interactionId: string, plan: ReturnType<LedgerService['planTip']>, apiKey?: ApiTipKey): Promise<TipResult> {
    const row = await this.retrying(() => repo.tip(this.db, this.tipArgs(interactionId, plan, apiKey)), plan);
    return this.tipResult(row, plan);
  }

  private tipResult(row: repo.TipRow, plan: ReturnType<LedgerService['planTip']>): TipResult {
    return {
      replayed: row.replayed,
      tipIds: row.tip_ids,
      currency: plan.currency,
      each: row.each_amount,
      total: row.each_amount * BigInt(row.receiver_ids.length),
      senderBalance: row.sender_balance,
      receivers: plan.receivers,
    };
  }

  private async throwInsufficient(db: Kysely<DB>, userId: bigint, currency: Currency, needed: bigint): Promise<never> {
    const have = await repo.balanceOf(db, userId, currency.code);
    throw this.insufficient(have, needed, currency);
  }

  private insufficient(have: bigint, needed: bigint, currency: Currency): UserError {
    return new UserError(
      'INSUFFICIENT_FUNDS',
      `Insufficient funds: this needs ${this.format(needed, currency.code)} but you have ${this.format(have, currency.code)}.`,
    );
  }

  /**
   * Runs `fn` again on serialization failures and deadlocks; maps ledger_tip()'s failures (insufficient funds, with
   * the balance it saw; reused interaction id) to UserErrors.
   */
  private async retrying<T>(fn: () => Promise<T>, plan?: { currency: Currency; total: bigint; receivers: DiscordUserRef[] }): Promise<T> {
    try {
      return await retryOnSerialization(fn);
    } catch (err) {
      const failure = ledgerFailure(err);
      switch (failure?.kind) {
        case 'insufficient_funds':
          if (plan) throw this.insufficient(failure.balance, plan.total, plan.currency);
          break;
        case 'idempotency_conflict':
          throw new UserError('IDEMPOTENCY_CONFLICT', 'This interaction was already used for a different tip.');
        case 'sender_blocked':
          throw blockedError();
        case 'receiver_blocked':
          // The name the member was mentioned by; the API names members by id only, so the stored name there.
          throw blockedError(plan?.receivers.find((r) => r.discordId === failure.discordId)?.username || failure.username);
        case 'api_key_reused':
          throw new UserError('IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was used with a different request body.');
        case 'unknown_receiver':
          throw new UserError('UNKNOWN_USER', `Member ${failure.discordId} is not known to Solbound (they must have used the bot).`);
      }
      throw err;
    }
  }
}

function strip(u: DiscordUserRef): DiscordUserRef {
  return { discordId: u.discordId, username: u.username };
}
