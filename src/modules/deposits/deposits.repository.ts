import { sql, type Kysely, type Transaction } from 'kysely';
import type { DB } from '../../db/schema';
import type { DepositStatus } from './deposits.tables';

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

/**
 * Pending deposits, and those closed (expired / failed) less than `lateWindowMinutes` after their expiry, least
 * recently checked first; `due` = a pending one past expiry, so this check is its last one.
 */
export function watchBatch(db: Db, limit: number, lateWindowMinutes: number) {
  return db
    .selectFrom('deposits as d')
    .innerJoin('users as u', 'u.id', 'd.user_id')
    .selectAll('d')
    .select(['u.discord_id', sql<boolean>`d.status = 'pending' and d.expires_at <= now()`.as('due')])
    .where((eb) =>
      eb.or([
        eb('d.status', '=', 'pending'),
        eb.and([eb('d.status', 'in', ['expired', 'failed']), eb('d.expires_at', '>', sql<Date>`now() - make_interval(mins => ${lateWindowMinutes})`)]),
      ]),
    )
    .orderBy(sql`d.checked_at nulls first`)
    .orderBy('d.id')
    .limit(limit)
    .execute();
}

export function depositWithSignature(db: Db, signature: string) {
  return db.selectFrom('deposits').select(['id']).where('signature', '=', signature).executeTakeFirst();
}

/**
 * `from` (pending, or expired / failed for a late payment) → credited; undefined when the deposit is no longer in
 * that state (someone else settled it).
 */
export function markCredited(db: Db, id: bigint, from: DepositStatus, signature: string, received: bigint) {
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
    .where('status', '=', from)
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

/** A closed deposit watched for a late payment was looked at (its closing reason stays). */
export async function touchClosed(db: Db, id: bigint): Promise<void> {
  await db.updateTable('deposits').set({ checked_at: sql`now()` }).where('id', '=', id).where('status', 'in', ['expired', 'failed']).execute();
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
