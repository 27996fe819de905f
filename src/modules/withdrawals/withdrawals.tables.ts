import type { ColumnType } from 'kysely';
import type { CreatedAt, Id, Timestamp } from '../../db/schema';
import type { SignedTxColumns } from '../../db/signed-tx-outbox';

// Kysely view of migrations/2026_11_23_004000_deposits_withdrawals.ts (withdraw_methods, withdrawals) and
// 2026_11_28_130000_payout_limits_blocks.ts (released_at), 2026_11_28_210000_withdrawal_notices.ts.

type Amount = ColumnType<bigint, bigint | string, bigint | string>;
type OptionalAmount = ColumnType<bigint, bigint | string | undefined, bigint | string>;
type NullableTime = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;

/** requested → approved → sent → confirmed, or → failed → refunded (a rejected request is refunded too). */
export type WithdrawalStatus = 'requested' | 'approved' | 'sent' | 'confirmed' | 'failed' | 'refunded';

export interface WithdrawMethodsTable {
  currency: string;
  enabled: ColumnType<boolean, boolean | undefined, boolean>;
  min_amount: Amount;
  max_amount: Amount;
  approval_threshold: Amount;
  fee: OptionalAmount;
  paused_at: NullableTime;
  paused_reason: string | null;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export interface WithdrawalsTable extends SignedTxColumns {
  id: Id;
  user_id: bigint;
  currency: string;
  amount: Amount;
  fee: OptionalAmount;
  destination: string;
  status: WithdrawalStatus;
  idempotency_key: string;
  approved_by: string | null;
  approved_at: NullableTime;
  refunded_at: NullableTime;
  /** When the hourly outflow cap released the payout (set once, before its first transaction is signed). */
  released_at: NullableTime;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

/** The member's DM about a final withdrawal, owed until `sent_at` (an outbox written with the final status). */
export interface WithdrawalNoticesTable {
  withdrawal_id: bigint;
  kind: 'confirmed' | 'refunded';
  created_at: CreatedAt;
  claimed_until: NullableTime;
  attempts: ColumnType<number, number | undefined, number>;
  sent_at: NullableTime;
}

export interface WithdrawalTables {
  withdraw_methods: WithdrawMethodsTable;
  withdrawals: WithdrawalsTable;
  withdrawal_notices: WithdrawalNoticesTable;
}
