import type { ColumnType } from 'kysely';
import type { CreatedAt, Id, Timestamp } from '../../db/schema';

// Kysely view of migrations/2026_11_23_004000_deposits_withdrawals.ts (deposits).

type Amount = ColumnType<bigint, bigint | string, bigint | string>;

export type DepositStatus = 'pending' | 'credited' | 'expired' | 'failed';

export interface DepositsTable {
  id: Id;
  user_id: bigint;
  currency: string;
  expected_amount: Amount;
  reference: string;
  recipient: string;
  status: ColumnType<DepositStatus, DepositStatus | undefined, DepositStatus>;
  signature: string | null;
  received_amount: ColumnType<bigint | null, bigint | string | null | undefined, bigint | string | null>;
  failure_reason: string | null;
  interaction_id: string;
  expires_at: Timestamp;
  credited_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  checked_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export interface DepositTables {
  deposits: DepositsTable;
}
