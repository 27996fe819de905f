import type { Kysely } from 'kysely';
import type { AppContext } from '../../app-context';
import type { ChainService } from '../../chain/chain.service';
import { findReference, validateTransfer } from '../../chain/solana-pay';
import { chainCreditOf, SignatureAlreadyCredited } from '../../db/chain-credits';
import type { DB } from '../../db/schema';
import { defineJob } from '../../jobs/job';
import type { Logger } from '../../logger';
import * as core from './billing.payments';
import type { PaymentOutcome } from './billing.payments';
import * as repo from './billing-chain.repository';
import type { WatchedInvoice } from './billing-chain.repository';

/** Invoices looked at per run (each is one getSignaturesForAddress plus one getTransaction per new signature). */
export const INVOICE_WATCH_BATCH = 100;
/** How long a paid, expired or canceled invoice is still watched, so a late or second payment reaches the balance. */
export const LATE_PAYMENT_WINDOW_MINUTES = 24 * 60;

/** What the member is told about a chain payment (a DM); `late`: the invoice was no longer open, nothing activated. */
export interface InvoicePaymentEvent {
  discordId: string;
  invoiceNumber: string;
  /** The invoice's status after the payment (PENDING, PAID, or the EXPIRED / CANCELED / PAID it already had). */
  status: string;
  outcome: Exclude<PaymentOutcome, 'replayed'>;
  currency: string;
  received: bigint;
  applied: bigint;
  credited: bigint;
  /** Still due after a partial payment. */
  due: bigint;
  signature: string;
  subscriptionExpiresAt: Date | null;
}

/** Must not throw for delivery failures it can log itself; a failed DM never undoes a credit. */
export type InvoicePaymentNotifier = (event: InvoicePaymentEvent) => Promise<void>;

export interface InvoiceWatchResult {
  checked: number;
  paid: number;
  partial: number;
  late: number;
  replayed: number;
  ignored: number;
  errors: number;
}

/**
 * The invoice-watch job's work: for each watched invoice, the transactions naming its Solana Pay reference
 * (finalized only, like deposits: a credit is never rolled back by a fork) are validated against what the cluster
 * recorded — the invoice's recipient credited in the invoice's mint (SOL when none) — and each qualifying one is
 * handed to the core applyPayment with its signature as the idempotency key, in one transaction per signature.
 * applyPayment decides the money: partial payments add up, an overpayment's excess and a payment to an invoice no
 * longer open (or landing at/after rate_locked_until, by block time) stay in the member's balance and activate
 * nothing. A transaction that pays something else (wrong mint, wrong recipient, failed) is logged once and ignored.
 * Two watchers racing on one signature credit it once: the invoice row lock and the UNIQUE signature decide; against
 * deposit-watch, the signature's chain_credits row (applyPayment claims it) decides.
 */
export class InvoiceWatcher {
  constructor(
    private readonly db: Kysely<DB>,
    private readonly chain: ChainService,
    private readonly opts: { notify?: InvoicePaymentNotifier | undefined; batch?: number; lateWindowMinutes?: number } = {},
    private readonly log?: Logger,
  ) {}

  async run(): Promise<InvoiceWatchResult> {
    const out: InvoiceWatchResult = { checked: 0, paid: 0, partial: 0, late: 0, replayed: 0, ignored: 0, errors: 0 };
    const batch = await repo.watchBatch(this.db, {
      limit: this.opts.batch ?? INVOICE_WATCH_BATCH,
      lateWindowMinutes: this.opts.lateWindowMinutes ?? LATE_PAYMENT_WINDOW_MINUTES,
    });
    for (const invoice of batch) {
      out.checked += 1;
      try {
        await this.check(invoice, out);
        await repo.markChecked(this.db, invoice.id, null);
      } catch (err) {
        // One invoice's RPC failure is retried next run; the rest of the batch goes on.
        out.errors += 1;
        this.log?.warn({ err, invoiceId: invoice.id }, 'invoice check failed; retrying next run');
        await repo.markChecked(this.db, invoice.id, err instanceof Error ? err.message.slice(0, 500) : String(err)).catch(() => undefined);
      }
    }
    return out;
  }

  /**
   * The invoice-expiry job's last look at an open invoice's reference before it expires it: what landed on chain is
   * applied now (an in-time payment by block time still pays). 'paid' when that completed it, 'late' when a late
   * payment expired it (the member got that payment's DM), 'open' otherwise (or when it is not payable on chain).
   * RPC errors propagate: the caller must not expire it this time.
   */
  async lastLook(invoiceId: bigint): Promise<'open' | 'paid' | 'late'> {
    const invoice = await repo.watchedInvoice(this.db, invoiceId);
    if (!invoice || invoice.recipient === null || !core.isOpen(invoice)) return 'open';
    const out: InvoiceWatchResult = { checked: 1, paid: 0, partial: 0, late: 0, replayed: 0, ignored: 0, errors: 0 };
    await this.check(invoice, out);
    await repo.markChecked(this.db, invoice.id, null);
    return out.paid > 0 ? 'paid' : out.late > 0 ? 'late' : 'open';
  }

  private async check(invoice: WatchedInvoice, out: InvoiceWatchResult): Promise<void> {
    const conn = this.chain.connection;
    const lookup = await findReference(conn, invoice.reference, { commitment: 'finalized' });
    if (lookup.status === 'not-found') return;
    const settled = await repo.settledSignatures(this.db, invoice.id, lookup.signatures);
    // Oldest first: payments add up in the order they landed.
    for (const signature of [...lookup.signatures].reverse()) {
      if (settled.has(signature)) continue;
      if ((await chainCreditOf(this.db, signature)) === 'deposit') {
        await this.ignore(invoice, signature, 'credited-as-deposit', 'the transaction was already credited to a /deposit', out);
        continue;
      }
      const v = await validateTransfer(
        conn,
        signature,
        {
          recipient: invoice.recipient!,
          // Any positive amount qualifies; how much of it the invoice takes is applyPayment's decision.
          amount: 1n,
          ...(invoice.mint !== null && { mint: invoice.mint }),
          reference: invoice.reference,
          allowOverpayment: true,
        },
        'finalized',
      );
      // Indexed but not yet fetchable at this commitment: look again next run.
      if (v.status === 'not-found') continue;
      if (v.status === 'failed') {
        await this.ignore(invoice, signature, 'failed', 'the transaction failed on chain', out);
        continue;
      }
      if (v.status === 'invalid') {
        await this.ignore(invoice, signature, v.reason, v.detail, out);
        continue;
      }
      const at = v.blockTime !== null ? new Date(v.blockTime * 1000) : new Date();
      let result: core.PaymentResult;
      try {
        result = await this.db.transaction().execute((trx) => core.applyPayment(trx, invoice.id, { source: 'chain', amount: v.received, signature, at }));
      } catch (err) {
        // deposit-watch credited it between the look above and our claim.
        if (!(err instanceof SignatureAlreadyCredited)) throw err;
        await this.ignore(invoice, signature, 'credited-as-deposit', 'the transaction was already credited to a /deposit', out);
        continue;
      }
      out[result.outcome] += 1;
      if (result.outcome === 'replayed') continue;
      this.log?.info(
        {
          invoiceId: invoice.id,
          number: invoice.number,
          outcome: result.outcome,
          received: v.received.toString(),
          applied: result.applied.toString(),
          credited: result.credited.toString(),
          signature,
        },
        'invoice payment applied',
      );
      await this.notify({
        discordId: invoice.discord_id,
        invoiceNumber: invoice.number,
        status: result.invoice.status,
        outcome: result.outcome,
        currency: invoice.currency,
        received: v.received,
        applied: result.applied,
        credited: result.credited,
        due: core.isOpen(result.invoice) ? result.invoice.amount - result.invoice.paid_amount : 0n,
        signature,
        subscriptionExpiresAt: result.subscription?.expires_at ?? null,
      });
    }
  }

  private async ignore(invoice: WatchedInvoice, signature: string, reason: string, detail: string, out: InvoiceWatchResult): Promise<void> {
    if (!(await repo.ignoreSignature(this.db, { invoiceId: invoice.id, signature, reason, detail }))) return;
    out.ignored += 1;
    this.log?.warn({ invoiceId: invoice.id, number: invoice.number, signature, reason, detail }, 'transaction naming the invoice reference ignored: it does not pay the invoice');
  }

  private async notify(event: InvoicePaymentEvent): Promise<void> {
    try {
      await this.opts.notify?.(event);
    } catch (err) {
      this.log?.warn({ err, invoice: event.invoiceNumber }, 'invoice payment notification failed');
    }
  }
}

/** Applies on-chain payments to invoices (Solana Pay references); cluster-wide single run per tick (advisory lock). */
export default defineJob({
  name: 'invoice-watch',
  schedule: '*/15 * * * * *',
  run: (ctx: AppContext) => new InvoiceWatcher(ctx.db, ctx.services.chain, { notify: ctx.effects.billingPayments }, ctx.log.child({ job: 'invoice-watch' })).run(),
});
