import { sql, type ColumnType } from 'kysely';

type NullableTime = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;

/**
 * The columns every crash-safe chain outbox row carries (withdrawals, badge chain ops): the signed transaction is
 * persisted before it is sent, and replaced only after the previous one provably expired (its signature kept).
 */
export interface SignedTxColumns {
  signature: string | null;
  serialized_tx: string | null;
  blockhash: string | null;
  last_valid_block_height: ColumnType<bigint | null, bigint | number | null | undefined, bigint | number | null>;
  previous_signatures: ColumnType<string[], string[] | undefined, string[]>;
  attempts: ColumnType<number, number | undefined, number>;
  failure_reason: string | null;
  sent_at: NullableTime;
  confirmed_at: NullableTime;
}

export interface SignedTx {
  signature: string;
  serialized: string;
  blockhash: string;
  lastValidBlockHeight: number;
}

/** The update that stores a freshly signed transaction, replacing `replacing` (null for the first one). */
export function storeSignedTxSet(tx: SignedTx, replacing: string | null) {
  return {
    signature: tx.signature,
    serialized_tx: tx.serialized,
    blockhash: tx.blockhash,
    last_valid_block_height: tx.lastValidBlockHeight,
    attempts: sql<number>`attempts + 1`,
    previous_signatures: replacing === null ? sql<string[]>`previous_signatures` : sql<string[]>`array_append(previous_signatures, ${replacing})`,
    failure_reason: null,
  };
}
