import { sql, type Kysely, type Transaction } from 'kysely';
import type { DB } from '../../db/schema';
import { storeSignedTxSet, type SignedTx } from '../../db/signed-tx-outbox';
import type { WithdrawalStatus } from './withdrawals.tables';

type Db = Kysely<DB> | Transaction<DB>;

/** Money that left a balance but has not left the treasury for good (or come back). */
export const OPEN_STATUSES: WithdrawalStatus[] = ['requested', 'approved', 'sent', 'failed'];

export interface MethodDefaults {
  currency: string;
  min: bigint;
  max: bigint;
  approvalThreshold: bigint;
}

export async function insertMissingMethods(db: Db, defaults: MethodDefaults[]): Promise<void> {
  if (defaults.length === 0) return;
  await db
    .insertInto('withdraw_methods')
    .values(
      defaults.map((d) => ({
        currency: d.currency,
        min_amount: d.min.toString(),
        max_amount: d.max.toString(),
        approval_threshold: d.approvalThreshold.toString(),
      })),
    )
    .onConflict((oc) => oc.column('currency').doNothing())
    .execute();
}

export function listMethods(db: Db) {
  return db.selectFrom('withdraw_methods').selectAll().orderBy('currency').execute();
}

export function findMethod(db: Db, currency: string) {
  return db.selectFrom('withdraw_methods').selectAll().where('currency', '=', currency).executeTakeFirst();
}

export function updateMethod(
  db: Db,
  currency: string,
  patch: { enabled?: boolean; min?: bigint; max?: bigint; approvalThreshold?: bigint; fee?: bigint },
) {
  return db
    .updateTable('withdraw_methods')
    .set({
      ...(patch.enabled !== undefined ? { enabled: patch.enabled } : {}),
      ...(patch.min !== undefined ? { min_amount: patch.min.toString() } : {}),
      ...(patch.max !== undefined ? { max_amount: patch.max.toString() } : {}),
      ...(patch.approvalThreshold !== undefined ? { approval_threshold: patch.approvalThreshold.toString() } : {}),
      ...(patch.fee !== undefined ? { fee: patch.fee.toString() } : {}),
    })
    .where('currency', '=', currency)
    .returningAll()
    .executeTakeFirst();
}

/** Solvency pause; keeps the first pause time while it stays paused. */
export async function pauseMethod(db: Db, currency: string, reason: string): Promise<boolean> {
  const r = await db
    .updateTable('withdraw_methods')
    .set({ paused_at: sql`coalesce(paused_at, now())`, paused_reason: reason })
    .where('currency', '=', currency)
    .where('paused_at', 'is', null)
    .executeTakeFirst();
  return r.numUpdatedRows > 0n;
}

export async function resumeMethod(db: Db, currency: string): Promise<boolean> {
  const r = await db
    .updateTable('withdraw_methods')
    .set({ paused_at: null, paused_reason: null })
    .where('currency', '=', currency)
    .where('paused_at', 'is not', null)
    .executeTakeFirst();
  return r.numUpdatedRows > 0n;
}

export interface NewWithdrawal {
  userId: bigint;
  currency: string;
  amount: bigint;
  fee: bigint;
  destination: string;
  status: 'requested' | 'approved';
  idempotencyKey: string;
}

/** Undefined when the idempotency key was used before. */
export function insertWithdrawal(db: Db, w: NewWithdrawal) {
  return db
    .insertInto('withdrawals')
    .values({
      user_id: w.userId,
      currency: w.currency,
      amount: w.amount.toString(),
      fee: w.fee.toString(),
      destination: w.destination,
      status: w.status,
      idempotency_key: w.idempotencyKey,
    })
    .onConflict((oc) => oc.column('idempotency_key').doNothing())
    .returningAll()
    .executeTakeFirst();
}

/** Seconds until the member may request another withdrawal (0 = now): measured from their latest request. */
export async function cooldownLeft(db: Db, userId: bigint, cooldownSeconds: number): Promise<number> {
  const row = await db
    .selectFrom('withdrawals')
    .select(sql<number>`ceil(extract(epoch from (created_at + make_interval(secs => ${cooldownSeconds}) - now())))::int`.as('left'))
    .where('user_id', '=', userId)
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
  return Math.max(0, row?.left ?? 0);
}

/** The member's withdrawals of the currency requested in the last `hours` (amounts, fees excluded), refunded ones excepted. */
export async function windowTotal(db: Db, userId: bigint, currency: string, hours: number): Promise<bigint> {
  const row = await db
    .selectFrom('withdrawals')
    .select(sql<string>`coalesce(sum(amount), 0)::text`.as('total'))
    .where('user_id', '=', userId)
    .where('currency', '=', currency)
    .where('created_at', '>', sql<Date>`now() - make_interval(hours => ${hours})`)
    .where('status', '<>', 'refunded')
    .executeTakeFirstOrThrow();
  return BigInt(row.total);
}

/**
 * Stamps released_at on the withdrawal when the currency's payouts released in the last hour (refunded ones
 * excepted) plus `amount` stay within `cap`, or when none were released (a payout above the cap goes out alone);
 * `cap` undefined = no cap. The currency's withdraw_methods row is locked for the decision, so concurrent releases
 * of one currency are serialized until the caller's transaction (`trx`) ends.
 */
export async function releaseUnderCap(trx: Transaction<DB>, id: bigint, currency: string, amount: bigint, cap: bigint | undefined) {
  await trx.selectFrom('withdraw_methods').select('currency').where('currency', '=', currency).forUpdate().execute();
  const row = await trx
    .selectFrom('withdrawals')
    .select(sql<string>`coalesce(sum(amount), 0)::text`.as('total'))
    .where('currency', '=', currency)
    .where('released_at', '>', sql<Date>`now() - interval '1 hour'`)
    .where('status', '<>', 'refunded')
    .executeTakeFirstOrThrow();
  const releasedLastHour = BigInt(row.total);
  if (cap !== undefined && releasedLastHour > 0n && releasedLastHour + amount > cap) return { released: false, releasedLastHour };
  await trx.updateTable('withdrawals').set({ released_at: sql`now()` }).where('id', '=', id).where('released_at', 'is', null).execute();
  return { released: true, releasedLastHour };
}

export function findByKey(db: Db, key: string) {
  return db.selectFrom('withdrawals').selectAll().where('idempotency_key', '=', key).executeTakeFirst();
}

export function findById(db: Db, id: bigint) {
  return db
    .selectFrom('withdrawals as w')
    .innerJoin('users as u', 'u.id', 'w.user_id')
    .selectAll('w')
    .select('u.discord_id')
    .where('w.id', '=', id)
    .executeTakeFirst();
}

export function listByStatus(db: Db, statuses: WithdrawalStatus[], limit: number) {
  return db
    .selectFrom('withdrawals as w')
    .innerJoin('users as u', 'u.id', 'w.user_id')
    .selectAll('w')
    .select('u.discord_id')
    .where('w.status', 'in', statuses)
    .orderBy('w.id')
    .limit(limit)
    .execute();
}

export function listOfUser(db: Db, userId: bigint, limit: number) {
  return db.selectFrom('withdrawals').selectAll().where('user_id', '=', userId).orderBy('id', 'desc').limit(limit).execute();
}

/** requested → approved by a moderator. */
export function approve(db: Db, id: bigint, approver: string) {
  return db
    .updateTable('withdrawals')
    .set({ status: 'approved', approved_by: approver, approved_at: sql`now()` })
    .where('id', '=', id)
    .where('status', '=', 'requested')
    .returningAll()
    .executeTakeFirst();
}

/**
 * Stores a freshly signed transaction, replacing `replacing` (null for the first one). Compare-and-set on the
 * current signature: only the transaction the caller proved dead can be replaced.
 */
export function storeSignedTx(
  db: Db,
  id: bigint,
  replacing: string | null,
  tx: SignedTx,
) {
  return db
    .updateTable('withdrawals')
    .set({
      status: 'approved',
      ...storeSignedTxSet(tx, replacing),
    })
    .where('id', '=', id)
    .where('status', 'in', ['approved', 'sent'])
    .where((eb) => (replacing === null ? eb('signature', 'is', null) : eb('signature', '=', replacing)))
    .returningAll()
    .executeTakeFirst();
}

export async function markSent(db: Db, id: bigint, signature: string): Promise<void> {
  await db
    .updateTable('withdrawals')
    .set({ status: 'sent', sent_at: sql`coalesce(sent_at, now())` })
    .where('id', '=', id)
    .where('signature', '=', signature)
    .where('status', 'in', ['approved', 'sent'])
    .execute();
}

export async function noteFailure(db: Db, id: bigint, reason: string): Promise<void> {
  await db.updateTable('withdrawals').set({ failure_reason: reason }).where('id', '=', id).execute();
}

export function markConfirmed(db: Db, id: bigint, signature: string) {
  return db
    .updateTable('withdrawals')
    .set({ status: 'confirmed', confirmed_at: sql`now()`, failure_reason: null })
    .where('id', '=', id)
    .where('signature', '=', signature)
    .where('status', 'in', ['approved', 'sent'])
    .returningAll()
    .executeTakeFirst();
}

/**
 * → refunded, only from `from` and (when given) while the in-flight signature is still the one proven dead.
 * The caller credits the balance and journals in the same transaction.
 */
export function markRefunded(db: Db, id: bigint, from: WithdrawalStatus[], signature: string | null | undefined, reason: string) {
  let q = db
    .updateTable('withdrawals')
    .set({ status: 'refunded', refunded_at: sql`now()`, failure_reason: reason })
    .where('id', '=', id)
    .where('status', 'in', from);
  if (signature !== undefined) q = q.where((eb) => (signature === null ? eb('signature', 'is', null) : eb('signature', '=', signature)));
  return q.returningAll().executeTakeFirst();
}

/** The member's DM about this final state is owed from the same transaction on (idempotent). */
export async function enqueueNotice(db: Db, withdrawalId: bigint, kind: 'confirmed' | 'refunded'): Promise<void> {
  await db
    .insertInto('withdrawal_notices')
    .values({ withdrawal_id: withdrawalId, kind })
    .onConflict((oc) => oc.columns(['withdrawal_id', 'kind']).doNothing())
    .execute();
}

/**
 * Leases up to `limit` unsent notices (optionally of one withdrawal) nobody holds a live lease on. SKIP LOCKED:
 * replicas never take the same row; a lease outlives a dead sender by `leaseSeconds`.
 */
export async function claimNotices(
  db: Db,
  o: { leaseSeconds: number; limit: number; withdrawalId?: bigint },
): Promise<Array<{ withdrawal_id: bigint; kind: 'confirmed' | 'refunded'; attempts: number }>> {
  const only = o.withdrawalId === undefined ? sql`true` : sql`withdrawal_id = ${o.withdrawalId}`;
  const { rows } = await sql<{ withdrawal_id: string; kind: 'confirmed' | 'refunded'; attempts: number }>`
    update withdrawal_notices n set claimed_until = now() + make_interval(secs => ${o.leaseSeconds}), attempts = n.attempts + 1
    where (n.withdrawal_id, n.kind) in (
      select withdrawal_id, kind from withdrawal_notices
      where sent_at is null and (claimed_until is null or claimed_until < now()) and ${only}
      order by created_at
      limit ${o.limit}
      for update skip locked)
    returning n.withdrawal_id::text, n.kind, n.attempts`.execute(db);
  return rows.map((r) => ({ ...r, withdrawal_id: BigInt(r.withdrawal_id) }));
}

export async function markNoticeSent(db: Db, withdrawalId: bigint, kind: 'confirmed' | 'refunded'): Promise<void> {
  await db.updateTable('withdrawal_notices').set({ sent_at: sql`now()`, claimed_until: null }).where('withdrawal_id', '=', withdrawalId).where('kind', '=', kind).execute();
}

/** A failed send is retried by the next pass, not after the lease. */
export async function releaseNotice(db: Db, withdrawalId: bigint, kind: 'confirmed' | 'refunded'): Promise<void> {
  await db.updateTable('withdrawal_notices').set({ claimed_until: null }).where('withdrawal_id', '=', withdrawalId).where('kind', '=', kind).execute();
}

/** Per currency: balances, open withdrawals (amount + fee), credited deposits, confirmed withdrawals, admin credits. */
export async function liabilities(db: Db): Promise<Map<string, { balances: bigint; pendingWithdrawals: bigint }>> {
  const { rows } = await sql<{ currency: string; balances: string; pending: string }>`
    select currency, sum(balances)::text as balances, sum(pending)::text as pending from (
      -- account_balances: balance rows plus credits not yet folded into them (hot receivers' tips).
      select currency, amount as balances, 0 as pending from account_balances
      union all
      select currency, 0, amount + fee from withdrawals where status in ('requested', 'approved', 'sent', 'failed')
      union all
      -- Open airdrop escrow left its creator's balance but is still owed to members (claims or refund).
      select currency, remaining_amount, 0 from airdrops where status = 'open'
      union all
      -- Membership revenue left members' balances but is owed to the guilds that sold them (or back on a refund).
      select currency, amount, 0 from guild_revenue
    ) x group by currency`.execute(db);
  return new Map(rows.map((r) => [r.currency, { balances: BigInt(r.balances), pendingWithdrawals: BigInt(r.pending) }]));
}
