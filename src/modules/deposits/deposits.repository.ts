import { sql, type Kysely, type Transaction } from 'kysely';
import type { DB } from '../../db/schema';

type Db = Kysely<DB> | Transaction<DB>;

export interface NewDeposit {
  userId: bigint;
  currency: string;
  expectedAmount: bigint;
  reference: string;
  recipient: string;
  interactionId: string;
  expiresAt: Date;
}

/** Undefined when the interaction already created a deposit (a retried interaction). */
export function insertDeposit(db: Db, d: NewDeposit) {
  return db
    .insertInto('deposits')
    .values({
      user_id: d.userId,
      currency: d.currency,
      expected_amount: d.expectedAmount.toString(),
      reference: d.reference,
      recipient: d.recipient,
      interaction_id: d.interactionId,
      expires_at: d.expiresAt,
    })
    .onConflict((oc) => oc.column('interaction_id').doNothing())
    .returningAll()
    .executeTakeFirst();
}

export function findByInteraction(db: Db, interactionId: string) {
  return db.selectFrom('deposits').selectAll().where('interaction_id', '=', interactionId).executeTakeFirst();
}

export function findById(db: Db, id: bigint) {
  return db.selectFrom('deposits').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function countPendingOfUser(db: Db, userId: bigint): Promise<number> {
  const row = await db
    .selectFrom('deposits')
    .select((eb) => eb.fn.countAll<bigint>().as('n'))
    .where('user_id', '=', userId)
    .where('status', '=', 'pending')
    .where('expires_at', '>', sql<Date>`now()`)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Pending deposits, least recently checked first; `due` = past expiry, so this check is the last one. */
export function pendingBatch(db: Db, limit: number) {
  return db
    .selectFrom('deposits as d')
    .innerJoin('users as u', 'u.id', 'd.user_id')
    .selectAll('d')
    .select(['u.discord_id', sql<boolean>`d.expires_at <= now()`.as('due')])
    .where('d.status', '=', 'pending')
    .orderBy(sql`d.checked_at nulls first`)
    .orderBy('d.id')
    .limit(limit)
    .execute();
}

export function depositWithSignature(db: Db, signature: string) {
  return db.selectFrom('deposits').select(['id']).where('signature', '=', signature).executeTakeFirst();
}

/** pending → credited; undefined when the deposit is no longer pending (someone else settled it). */
export function markCredited(db: Db, id: bigint, signature: string, received: bigint) {
  return db
    .updateTable('deposits')
    .set({
      status: 'credited',
      signature,
      received_amount: received.toString(),
      credited_at: sql`now()`,
      checked_at: sql`now()`,
      failure_reason: null,
    })
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .returningAll()
    .executeTakeFirst();
}

export async function markChecked(db: Db, id: bigint, failureReason: string | null): Promise<void> {
  await db
    .updateTable('deposits')
    .set({ checked_at: sql`now()`, failure_reason: failureReason })
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .execute();
}

export async function close(db: Db, id: bigint, status: 'expired' | 'failed', failureReason: string | null): Promise<boolean> {
  const r = await db
    .updateTable('deposits')
    .set({ status, checked_at: sql`now()`, failure_reason: failureReason })
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .executeTakeFirst();
  return r.numUpdatedRows > 0n;
}

/** Credited deposits per currency (external inflow, for the ledger invariant and solvency reports). */
export function creditedTotals(db: Db) {
  return db
    .selectFrom('deposits')
    .select((eb) => ['currency', eb.fn.sum<bigint>('received_amount').as('total')])
    .where('status', '=', 'credited')
    .groupBy('currency')
    .execute();
}
