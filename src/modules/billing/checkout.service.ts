import type { Kysely } from 'kysely';
import type { ChainService } from '../../chain/chain.service';
import { buildPaymentTransaction, isPublicKey } from '../../chain/payment-request';
import { qrDataUrl } from '../../chain/qr-code';
import type { Config } from '../../config';
import { displayText } from '../../http/wallet-page';
import type { DB } from '../../db/schema';
import { UserError } from '../../errors';
import type { Currencies } from '../ledger/currencies';
import * as core from './billing.payments';
import type { Invoice, Plan } from './billing.repository';
import type { BillingService } from './billing.service';
import { cycleLabel } from './billing.service';
import * as repo from './billing-chain.repository';

/** What the checkout page and its live stream say about an invoice. `expired` includes an open invoice past its quote. */
export type CheckoutState = 'pending' | 'partially_paid' | 'paid' | 'expired' | 'canceled' | 'refunded';
export const FINAL_STATES: readonly CheckoutState[] = ['paid', 'expired', 'canceled', 'refunded'];

export interface CheckoutProgress {
  state: CheckoutState;
  /** Base units, as decimal strings (JSON has no bigint). */
  amount: string;
  paid: string;
  due: string;
  /** "0.5 SOL". */
  paidText: string;
  dueText: string;
  expiresAt: string;
}

export interface CheckoutView {
  reference: string;
  number: string;
  planName: string;
  planDescription: string;
  cycle: string;
  currency: string;
  amountText: string;
  /** The `solana:` transfer request for what is still due (null once nothing is due or without a recipient). */
  solanaPayUrl: string | null;
  qr: string | null;
  /** Wallet Standard chain id of this deployment's cluster. */
  chain: string;
  progress: CheckoutProgress;
}

const WALLET_CHAINS: Record<Config['SOLANA_CLUSTER'], string> = {
  'mainnet-beta': 'solana:mainnet',
  devnet: 'solana:devnet',
  testnet: 'solana:testnet',
  localnet: 'solana:localnet',
};

const notFound = () => new UserError('INVOICE_NOT_FOUND', 'There is no such invoice. Open the link from your /subscribe reply again.');

export function checkoutProgress(currencies: Currencies, i: Pick<Invoice, 'status' | 'amount' | 'paid_amount' | 'rate_locked_until' | 'currency'>, now = new Date()): CheckoutProgress {
  const open = core.isOpen(i);
  let state: CheckoutState;
  if (open && now.getTime() >= i.rate_locked_until.getTime()) state = 'expired';
  else if (i.status === 'CREATED') state = 'pending';
  else if (i.status === 'PENDING') state = 'partially_paid';
  else state = i.status.toLowerCase() as CheckoutState;
  const due = state === 'pending' || state === 'partially_paid' ? i.amount - i.paid_amount : 0n;
  return {
    state,
    amount: i.amount.toString(),
    paid: i.paid_amount.toString(),
    due: due.toString(),
    paidText: currencies.format(i.paid_amount, i.currency),
    dueText: currencies.format(due, i.currency),
    expiresAt: i.rate_locked_until.toISOString(),
  };
}

/**
 * The public checkout page's reads and its "Pay with wallet" transaction. An invoice is named by its Solana Pay
 * reference — 32 random bytes, never a sequential id — so a URL cannot be guessed or enumerated; the page shows
 * nothing about who the member is.
 */
export class CheckoutService {
  constructor(
    private readonly db: Kysely<DB>,
    private readonly chain: ChainService,
    private readonly billing: BillingService,
    private readonly currencies: Currencies,
    private readonly config: Pick<Config, 'SOLANA_CLUSTER'>,
  ) {}

  private async find(reference: string): Promise<{ invoice: Invoice; plan: Plan }> {
    // Anything that is not a public key is unknown, without a query (and without telling which part was wrong).
    const found = isPublicKey(reference) ? await repo.checkoutByReference(this.db, reference) : undefined;
    if (!found) throw notFound();
    return found;
  }

  async view(reference: string): Promise<CheckoutView> {
    const { invoice, plan } = await this.find(reference);
    const progress = checkoutProgress(this.currencies, invoice);
    const live = progress.state === 'pending' || progress.state === 'partially_paid';
    const { solanaPayUrl } = live ? await this.billing.checkout(invoice) : { solanaPayUrl: null };
    return {
      reference,
      number: invoice.number,
      planName: displayText(plan.name),
      planDescription: displayText(plan.description),
      cycle: cycleLabel(invoice.cycle),
      currency: invoice.currency,
      amountText: this.currencies.format(invoice.amount, invoice.currency),
      solanaPayUrl,
      qr: solanaPayUrl ? await qrDataUrl(solanaPayUrl) : null,
      chain: WALLET_CHAINS[this.config.SOLANA_CLUSTER],
      progress,
    };
  }

  /** The invoice's id for the live stream (the stream polls by primary key). */
  async idOf(reference: string): Promise<bigint> {
    return (await this.find(reference)).invoice.id;
  }

  async progress(id: bigint): Promise<CheckoutProgress | undefined> {
    const p = await repo.invoiceProgress(this.db, id);
    return p && checkoutProgress(this.currencies, p);
  }

  /**
   * An unsigned transfer of what is still due from `account` to the invoice's recipient in its mint, carrying the
   * reference, for the browser wallet to sign and send. Refused (specific UserError, nothing built) for an invoice
   * that is no longer payable.
   */
  async transaction(reference: string, account: string): Promise<{ transaction: string; message: string }> {
    if (!isPublicKey(account)) throw new UserError('BAD_ACCOUNT', 'The wallet account is not a Solana address.');
    const { invoice, plan } = await this.find(reference);
    if (invoice.recipient === null) throw new UserError('INVOICE_BALANCE_ONLY', `Invoice ${invoice.number} can only be paid from your balance in Discord.`);
    const progress = checkoutProgress(this.currencies, invoice);
    if (progress.state === 'expired') throw core.invoiceClosed({ ...invoice, status: 'EXPIRED' });
    if (progress.state !== 'pending' && progress.state !== 'partially_paid') throw core.invoiceClosed(invoice);
    const mint = invoice.mint === null ? undefined : await this.chain.mintInfo(invoice.mint);
    const { transaction } = await buildPaymentTransaction(this.chain.connection, {
      payer: account,
      recipient: invoice.recipient,
      amount: BigInt(progress.due),
      ...(mint && { mint }),
      reference: invoice.reference,
    });
    return { transaction, message: `${plan.name} · ${invoice.number} · ${progress.dueText}` };
  }
}
