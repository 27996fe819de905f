import type { ColumnType, Kysely, Transaction } from 'kysely';
import type { CreatedAt, DB } from './schema';

// Kysely view of migrations/2026_11_28_200000_chain_credits.ts, and its two queries. Shared by the deposit-watch and
// invoice-watch jobs (deposits and billing modules), so it lives here rather than in either module's repository.

export type ChainCreditPurpose = 'deposit' | 'invoice';

export interface ChainCreditsTable {
  signature: string;
  purpose: ColumnType<ChainCreditPurpose, ChainCreditPurpose, never>;
  created_at: CreatedAt;
}

export interface ChainCreditTables {
  chain_credits: ChainCreditsTable;
}

type Db = Kysely<DB> | Transaction<DB>;

/**
 * Claims the signature for one credit, inside the transaction that credits it. False when it was already claimed
 * (by either watcher). A concurrent claim of the same signature waits on the primary key until the first commits
 * (then this one is refused) or rolls back (then this one wins), so one signature is credited once whatever the
 * interleaving.
 */
export async function claimChainCredit(trx: Transaction<DB>, signature: string, purpose: ChainCreditPurpose): Promise<boolean> {
  const row = await trx
    .insertInto('chain_credits')
    .values({ signature, purpose })
    .onConflict((oc) => oc.column('signature').doNothing())
    .returning('signature')
    .executeTakeFirst();
  return row !== undefined;
}

/** What the signature was credited as, if it was. A hint only (skips an RPC fetch); the claim is what decides. */
export async function chainCreditOf(db: Db, signature: string): Promise<ChainCreditPurpose | undefined> {
  const row = await db.selectFrom('chain_credits').select('purpose').where('signature', '=', signature).executeTakeFirst();
  return row?.purpose;
}

/**
 * Thrown inside a crediting transaction whose signature the other watcher claimed first, to roll that transaction
 * back (nothing it wrote before the claim may stay).
 */
export class SignatureAlreadyCredited extends Error {
  constructor(readonly signature: string) {
    super(`transaction ${signature} was already credited`);
  }
}
