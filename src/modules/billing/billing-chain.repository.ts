import { sql, type Kysely, type Transaction } from 'kysely';
import type { DB } from '../../db/schema';
import type { Invoice, Plan } from './billing.repository';

// The SQL of on-chain invoice payments: the invoice-watch job's batches and memory, and the checkout page's reads.
// Folder-private like billing.repository.ts; the money moves through billing.payments.ts only.

type Db = Kysely<DB> | Transaction<DB>;

export type WatchedInvoice = Invoice & { discord_id: string };

/**
 * Invoices the watcher looks at this run: every open invoice with a Solana Pay recipient, and those paid, expired or
 * canceled within the last `lateWindowMinutes` (a second or late payment is credited to the member's balance).
 * Least recently checked first, so a backlog bigger than one batch is walked round-robin.
 */
export async function watchBatch(db: Db, q: { limit: number; lateWindowMinutes: number }): Promise<WatchedInvoice[]> {
  return db
    .selectFrom('billing_invoices as i')
    .innerJoin('users as u', 'u.id', 'i.user_id')
    .leftJoin('billing_invoice_watch as w', 'w.invoice_id', 'i.id')
    .selectAll('i')
    .select('u.discord_id')
    .where('i.recipient', 'is not', null)
    .where((eb) =>
      eb.or([
        eb('i.status', 'in', ['CREATED', 'PENDING']),
        eb.and([
          eb('i.status', 'in', ['PAID', 'EXPIRED', 'CANCELED']),
          eb(sql`coalesce(i.paid_at, i.expired_at, i.canceled_at)`, '>', sql<Date>`now() - make_interval(mins => ${q.lateWindowMinutes})`),
        ]),
      ]),
    )
    .orderBy('w.checked_at', (ob) => ob.asc().nullsFirst())
    .orderBy('i.id')
    .limit(q.limit)
    .execute();
}

export async function watchedInvoice(db: Db, id: bigint): Promise<WatchedInvoice | undefined> {
  return db.selectFrom('billing_invoices as i').innerJoin('users as u', 'u.id', 'i.user_id').selectAll('i').select('u.discord_id').where('i.id', '=', id).executeTakeFirst();
}

export async function markChecked(db: Db, invoiceId: bigint, error: string | null): Promise<void> {
  await db
    .insertInto('billing_invoice_watch')
    .values({ invoice_id: invoiceId, last_error: error })
    .onConflict((oc) =>
      oc.column('invoice_id').doUpdateSet({ checked_at: sql`now()`, checks: sql`billing_invoice_watch.checks + 1`, last_error: error }),
    )
    .execute();
}

/** Signatures already settled for this invoice: paid (to any invoice: one signature pays once) or ignored. */
export async function settledSignatures(db: Db, invoiceId: bigint, signatures: readonly string[]): Promise<Set<string>> {
  if (signatures.length === 0) return new Set();
  const rows = await db
    .selectFrom('billing_invoice_payments')
    .select('signature')
    .where('signature', 'in', signatures)
    .unionAll(
      db.selectFrom('billing_invoice_ignored_signatures').select('signature').where('invoice_id', '=', invoiceId).where('signature', 'in', signatures),
    )
    .execute();
  return new Set(rows.map((r) => r.signature!));
}

/** True when the ignore is new (each is logged once). */
export async function ignoreSignature(db: Db, i: { invoiceId: bigint; signature: string; reason: string; detail: string }): Promise<boolean> {
  const row = await db
    .insertInto('billing_invoice_ignored_signatures')
    .values({ invoice_id: i.invoiceId, signature: i.signature, reason: i.reason, detail: i.detail.slice(0, 500) })
    .onConflict((oc) => oc.doNothing())
    .returning('signature')
    .executeTakeFirst();
  return row !== undefined;
}

export async function ignoredSignatures(db: Db, invoiceId: bigint): Promise<{ signature: string; reason: string }[]> {
  return db.selectFrom('billing_invoice_ignored_signatures').select(['signature', 'reason']).where('invoice_id', '=', invoiceId).orderBy('created_at').execute();
}

/** The checkout page's view of an invoice, by its Solana Pay reference (the page's unguessable key). */
export async function checkoutByReference(db: Db, reference: string): Promise<{ invoice: Invoice; plan: Plan } | undefined> {
  const invoice = await db.selectFrom('billing_invoices').selectAll().where('reference', '=', reference).executeTakeFirst();
  if (!invoice) return undefined;
  const plan = await db.selectFrom('billing_plans').selectAll().where('id', '=', invoice.plan_id).executeTakeFirstOrThrow();
  return { invoice, plan };
}

/** What the live status stream polls: cheap, by primary key. */
export async function invoiceProgress(db: Db, id: bigint): Promise<Pick<Invoice, 'status' | 'amount' | 'paid_amount' | 'rate_locked_until' | 'currency'> | undefined> {
  return db
    .selectFrom('billing_invoices')
    .select(['status', 'amount', 'paid_amount', 'rate_locked_until', 'currency'])
    .where('id', '=', id)
    .executeTakeFirst();
}
