import { sql, type Kysely } from 'kysely';

// Frozen: never import application code here.
//
// One on-chain signature, one credit, across the deposit-watch and invoice-watch jobs. A transaction can name a
// /deposit reference and an invoice reference at once; each watcher alone was exactly-once (deposits.signature and
// billing_invoice_payments.signature are UNIQUE) but they did not see each other's claims race-free. Each credit now
// inserts its signature here in the transaction that credits it: the primary key decides, whichever commits first.
// Backfilled from what was credited before; a signature both already credited (the old race) keeps the deposit row.
//
// billing_subscriptions_suspended_expiry: the subscription-expiry job also ends SUSPENDED subscriptions at expires_at.

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE chain_credits (
      signature text PRIMARY KEY,
      purpose text NOT NULL CHECK (purpose IN ('deposit', 'invoice')),
      created_at timestamptz NOT NULL DEFAULT now()
    );

    INSERT INTO chain_credits (signature, purpose, created_at)
      SELECT signature, 'deposit', coalesce(credited_at, now()) FROM deposits WHERE signature IS NOT NULL
      ON CONFLICT (signature) DO NOTHING;
    INSERT INTO chain_credits (signature, purpose, created_at)
      SELECT signature, 'invoice', created_at FROM billing_invoice_payments WHERE signature IS NOT NULL
      ON CONFLICT (signature) DO NOTHING;

    CREATE INDEX billing_subscriptions_suspended_expiry ON billing_subscriptions (expires_at) WHERE status = 'SUSPENDED';
  `.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP INDEX billing_subscriptions_suspended_expiry;
    DROP TABLE chain_credits;
  `.execute(db);
}
