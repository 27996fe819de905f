import type { Kysely, Selectable } from 'kysely';
import type { ChainService } from '../../chain/chain.service';
import { qrPng } from '../../chain/qr-code';
import { buildTransferRequestUrl, findReference, newReference, validateTransfer } from '../../chain/solana-pay';
import { chainCreditOf, claimChainCredit, SignatureAlreadyCredited } from '../../db/chain-credits';
import { isUniqueViolation } from '../../db/pg-errors';
import type { DB } from '../../db/schema';
import { UserError } from '../../errors';
import { refuseBlocked } from '../users/blocked';
import type { Logger } from '../../logger';
import type { Currencies, Currency } from '../ledger/currencies';
import * as ledger from '../ledger/ledger.postings';
import * as users from '../users/users.accounts';
import type { DiscordUserRef } from '../ledger/ledger.service';
import * as repo from './deposits.repository';
import type { DepositsTable } from './deposits.tables';

export type Deposit = Selectable<DepositsTable>;

/** Open payment requests a member may have at once (each is a row the watcher polls). */
export const MAX_OPEN_DEPOSITS = 5;
const WATCH_BATCH = 100;
/**
 * How long an expired or failed request is still watched, so a payment that arrives late (a slow wallet, a member
 * paying an old QR code) reaches the balance instead of the treasury only; like invoice-watch's window.
 */
export const LATE_DEPOSIT_WINDOW_MINUTES = 24 * 60;

export interface DepositIntent {
  deposit: Deposit;
  currency: Currency;
  /** `solana:` transfer request URL with the deposit's reference key. */
  url: string;
  /** True when the interaction had already created this intent. */
  replayed: boolean;
}

export interface DepositCreditedEvent {
  discordId: string;
  depositId: bigint;
  currency: Currency;
  expected: bigint;
  received: bigint;
  signature: string;
  /** Set when the payment arrived after the request had closed (how it closed); it was credited all the same. */
  late?: 'expired' | 'failed';
}

/** Must not throw for delivery failures it can log itself; a failed DM never undoes a credit. */
export type DepositNotifier = (event: DepositCreditedEvent) => Promise<void>;

export type DepositCheck = 'credited' | 'waiting' | 'expired' | 'failed';

export interface WatchResult {
  checked: number;
  /** Includes `late`: payments to requests that had already closed. */
  credited: number;
  late: number;
  expired: number;
  failed: number;
  errors: number;
}

/**
 * /deposit intents and the watcher that credits them.
 *
 * Amount policy: the ledger credits what actually reached the treasury in the deposit's currency, whether more or
 * less than requested — the expected amount only pre-fills the wallet, and the money is the member's either way.
 * A transaction that failed on chain, paid another mint or did not credit the treasury is not a deposit: it is
 * recorded as the reason, the intent stays open for a correct payment, and one that expires after such a
 * transaction closes as `failed` (rather than `expired`) so support can tell the two apart.
 * Crediting is exactly-once: deposits.signature is UNIQUE and the journal key is `deposit:<signature>`; across
 * deposits and invoices, the signature's `chain_credits` row (claimed in the crediting transaction) decides.
 */
export class DepositsService {
  constructor(
    private readonly db: Kysely<DB>,
    private readonly chain: ChainService,
    private readonly currencies: Currencies,
    /** `notify`: the member is told about a credited deposit (a DM); without it deposits are credited silently. */
    private readonly opts: { ttlMinutes: number; notify?: DepositNotifier | undefined },
    private readonly log?: Logger,
  ) {}

  async create(req: { interactionId: string; user: DiscordUserRef; amount: string; currency?: string | null }): Promise<DepositIntent> {
    const { currency, amount } = this.currencies.parse(req.amount, req.currency);
    if (req.user.bot) throw new UserError('BOT_USER', 'Bots cannot deposit.');
    const recipient = this.chain.treasury().publicKey;

    const existing = await repo.findByInteraction(this.db, req.interactionId);
    if (existing) return this.intent(existing, true);

    const deposit = await this.db.transaction().execute(async (trx) => {
      const userId = await users.ensureId(trx, req.user);
      await refuseBlocked(trx, { self: req.user.discordId });
      if ((await repo.countPendingOfUser(trx, userId)) >= MAX_OPEN_DEPOSITS) {
        throw new UserError(
          'TOO_MANY_DEPOSITS',
          `You already have ${MAX_OPEN_DEPOSITS} open deposit requests — pay one of them or wait until they expire.`,
        );
      }
      return repo.insertDeposit(trx, {
        userId,
        currency: currency.code,
        expectedAmount: amount,
        reference: newReference(),
        recipient,
        interactionId: req.interactionId,
        expiresAt: new Date(Date.now() + this.opts.ttlMinutes * 60_000),
      });
    });
    // A concurrent retry of the same interaction inserted first.
    if (!deposit) return this.intent((await repo.findByInteraction(this.db, req.interactionId))!, true);
    return this.intent(deposit, false);
  }

  /** PNG QR code of the intent's URL, for a Discord attachment. */
  qr(intent: DepositIntent): Promise<Buffer> {
    return qrPng(intent.url);
  }

  async get(id: bigint): Promise<Deposit | undefined> {
    return repo.findById(this.db, id);
  }

  /** One pass of the deposit-watch job over pending intents; one deposit's RPC failure does not stop the rest. */
  async watch(batch = WATCH_BATCH): Promise<WatchResult> {
    const out: WatchResult = { checked: 0, credited: 0, late: 0, expired: 0, failed: 0, errors: 0 };
    if (!this.chain.hasTreasury) return out;
    for (const row of await repo.watchBatch(this.db, batch, LATE_DEPOSIT_WINDOW_MINUTES)) {
      out.checked += 1;
      try {
        const result = await this.check(row, row.due, row.discord_id);
        if (result !== 'waiting') out[result] += 1;
        if (result === 'credited' && row.status !== 'pending') out.late += 1;
      } catch (err) {
        out.errors += 1;
        this.log?.warn({ err, depositId: row.id }, 'deposit check failed; retrying next run');
      }
    }
    return out;
  }

  /**
   * Looks for the reference on chain and settles the intent. `due` (decided before the lookup) makes this the last
   * look: a payment that landed before it still credits, otherwise the intent closes. A closed intent (within the
   * late window) is credited by a qualifying payment like a pending one, and otherwise stays as it closed.
   */
  private async check(row: Deposit, due: boolean, discordId: string): Promise<DepositCheck> {
    const currency = this.currencies.get(row.currency);
    const conn = this.chain.connection;
    let reason: string | null = null;
    const lookup = await findReference(conn, row.reference, { commitment: 'finalized' });
    if (lookup.status === 'found') {
      // Oldest first: the first qualifying payment is the deposit.
      for (const signature of [...lookup.signatures].reverse()) {
        const other = await repo.depositWithSignature(this.db, signature);
        if (other) {
          reason = `transaction ${signature} already credited deposit #${other.id}`;
          continue;
        }
        if ((await chainCreditOf(this.db, signature)) === 'invoice') {
          reason = `transaction ${signature} already paid an invoice`;
          continue;
        }
        const v = await validateTransfer(
          conn,
          signature,
          {
            recipient: row.recipient,
            amount: row.expected_amount,
            ...(currency.mint ? { mint: currency.mint } : {}),
            reference: row.reference,
            allowOverpayment: true,
          },
          'finalized',
        );
        if (v.status === 'valid' || (v.status === 'invalid' && v.reason === 'amount-too-low' && v.received > 0n)) {
          if (await this.credit(row, discordId, currency, signature, v.received)) return 'credited';
          return 'waiting';
        }
        // Indexed but not yet fetchable at this commitment: look again next run.
        if (v.status === 'not-found') continue;
        reason = v.status === 'failed' ? `transaction ${signature} failed on chain` : `transaction ${signature}: ${v.detail}`;
      }
    }
    if (row.status !== 'pending') {
      await repo.touchClosed(this.db, row.id);
      return 'waiting';
    }
    if (due) {
      const status = reason ? 'failed' : 'expired';
      await repo.close(this.db, row.id, status, reason);
      return status;
    }
    await repo.markChecked(this.db, row.id, reason);
    return 'waiting';
  }

  private async credit(row: Deposit, discordId: string, currency: Currency, signature: string, received: bigint): Promise<boolean> {
    let credited: boolean;
    try {
      credited = await this.db.transaction().execute(async (trx) => {
        const updated = await repo.markCredited(trx, row.id, row.status, signature, received);
        if (!updated) return false;
        // One signature, one credit across deposits and invoices: the invoice watcher may hold it (same transaction
        // naming an invoice reference too). The throw rolls back markCredited.
        if (!(await claimChainCredit(trx, signature, 'deposit'))) throw new SignatureAlreadyCredited(signature);
        // The unique signature makes a taken journal key unreachable; postInflow throws rather than double-count.
        await ledger.postInflow(trx, {
          type: 'deposit',
          userId: row.user_id,
          amount: received,
          currency: currency.code,
          idempotencyKey: `deposit:${signature}`,
          ref: `deposit:${row.id}`,
        });
        return true;
      });
    } catch (err) {
      // Another deposit claimed this signature between our check and the update (one tx naming two references).
      if (isUniqueViolation(err, ['deposits_signature_key']) || err instanceof SignatureAlreadyCredited) return false;
      throw err;
    }
    if (credited) {
      const late = row.status === 'expired' || row.status === 'failed' ? row.status : undefined;
      this.log?.info({ depositId: row.id, currency: currency.code, received: received.toString(), signature, late }, 'deposit credited');
      await this.notify({ discordId, depositId: row.id, currency, expected: row.expected_amount, received, signature, ...(late ? { late } : {}) });
    }
    return credited;
  }

  private async notify(event: DepositCreditedEvent): Promise<void> {
    try {
      await this.opts.notify?.(event);
    } catch (err) {
      this.log?.warn({ err, depositId: event.depositId }, 'deposit notification failed');
    }
  }

  private intent(deposit: Deposit, replayed: boolean): DepositIntent {
    const currency = this.currencies.get(deposit.currency);
    const url = buildTransferRequestUrl({
      recipient: deposit.recipient,
      amount: deposit.expected_amount,
      decimals: currency.decimals,
      ...(currency.mint ? { splToken: currency.mint } : {}),
      reference: deposit.reference,
      label: 'Solbound',
      message: `Deposit #${deposit.id}`,
    });
    return { deposit, currency, url, replayed };
  }
}
