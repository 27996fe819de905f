import { sql, type Kysely } from 'kysely';

// Frozen: never import application code here.
// Memberships paid on chain (issue 14): what the invoice-watch job remembers between runs.
//
// billing_invoice_watch: one row per invoice the job has looked at — when (so a batch takes the least recently
// checked invoices first and a big backlog is walked round-robin, not the same 100 oldest forever) and the last
// RPC error. billing_invoice_ignored_signatures: transactions naming an invoice's reference that do not pay it
// (wrong mint, wrong recipient, failed on chain, already credited as a deposit). Each is logged once and never
// fetched again; payments themselves are in billing_invoice_payments (UNIQUE signature: one signature pays once).

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE billing_invoice_watch (
      invoice_id bigint PRIMARY KEY REFERENCES billing_invoices (id) ON DELETE CASCADE,
      checked_at timestamptz NOT NULL DEFAULT now(),
      checks integer NOT NULL DEFAULT 0,
      last_error text
    );

    CREATE TABLE billing_invoice_ignored_signatures (
      invoice_id bigint NOT NULL REFERENCES billing_invoices (id) ON DELETE CASCADE,
      signature text NOT NULL,
      reason text NOT NULL,
      detail text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (invoice_id, signature)
    );

    -- The watcher keeps looking at invoices closed (paid, expired, canceled) recently, so a late or second payment
    -- is credited to the member's balance instead of sitting unseen in the treasury.
    CREATE INDEX billing_invoices_closed_recently ON billing_invoices ((coalesce(paid_at, expired_at, canceled_at)))
      WHERE status IN ('PAID', 'EXPIRED', 'CANCELED') AND recipient IS NOT NULL;
  `.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP INDEX billing_invoices_closed_recently;
    DROP TABLE billing_invoice_ignored_signatures;
    DROP TABLE billing_invoice_watch;
  `.execute(db);
}
