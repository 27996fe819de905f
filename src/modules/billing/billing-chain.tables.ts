import type { ColumnType } from 'kysely';
import type { CreatedAt } from '../../db/schema';

// Kysely view of migrations/2026_11_28_172000_billing_chain.ts (the invoice-watch job's memory).

export interface BillingInvoiceWatchTable {
  invoice_id: bigint;
  checked_at: ColumnType<Date, Date | string | undefined, Date | string>;
  checks: ColumnType<number, number | undefined, number>;
  last_error: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface BillingInvoiceIgnoredSignaturesTable {
  invoice_id: bigint;
  signature: string;
  reason: string;
  detail: string;
  created_at: CreatedAt;
}

export interface BillingChainTables {
  billing_invoice_watch: BillingInvoiceWatchTable;
  billing_invoice_ignored_signatures: BillingInvoiceIgnoredSignaturesTable;
}
