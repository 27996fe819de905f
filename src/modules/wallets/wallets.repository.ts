import { sql, type Kysely, type Transaction } from 'kysely';
import { advisoryXactLock, LockNamespace } from '../../db/advisory-lock';
import type { DB } from '../../db/schema';
import type { RegistrationNonce, WalletMessageData, WalletRegistration } from './wallets.tables';

type Db = Kysely<DB> | Transaction<DB>;

export interface NewNonce {
  nonce: string;
  userId: bigint;
  discordId: string;
  discordUsername: string;
  baseUrl: string;
  interactionAppId: string | null;
  interactionToken: string | null;
  ttlSeconds: number;
}

/** Issues a nonce; times come from the database clock, truncated to the second so the signed text reads cleanly. */
export function insertNonce(db: Db, n: NewNonce): Promise<RegistrationNonce> {
  return db
    .insertInto('registration_nonces')
    .values({
      nonce: n.nonce,
      user_id: n.userId,
      discord_id: n.discordId,
      discord_username: n.discordUsername,
      base_url: n.baseUrl,
      interaction_app_id: n.interactionAppId,
      interaction_token: n.interactionToken,
      created_at: sql<Date>`date_trunc('second', now())`,
      expires_at: sql<Date>`date_trunc('second', now()) + make_interval(secs => ${n.ttlSeconds})`,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Invalidates the user's open (unused, not yet invalidated) nonces; returns how many. */
export async function invalidateOpenNonces(db: Db, userId: bigint): Promise<number> {
  const r = await db
    .updateTable('registration_nonces')
    .set({ invalidated_at: sql<Date>`now()` })
    .where('user_id', '=', userId)
    .where('used_at', 'is', null)
    .where('invalidated_at', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows);
}

export type NonceWithState = RegistrationNonce & { expired: boolean };

/** The nonce with `expired` judged by the database clock (the same clock that consumes it). */
export function findNonce(db: Db, nonce: string): Promise<NonceWithState | undefined> {
  return db
    .selectFrom('registration_nonces')
    .selectAll()
    .select(sql<boolean>`expires_at <= now()`.as('expired'))
    .where('nonce', '=', nonce)
    .executeTakeFirst();
}

/** The user's newest nonce that can still be used. */
export function findOpenNonceOfUser(db: Db, discordId: string): Promise<RegistrationNonce | undefined> {
  return db
    .selectFrom('registration_nonces')
    .selectAll()
    .where('discord_id', '=', discordId)
    .where('used_at', 'is', null)
    .where('invalidated_at', 'is', null)
    .where('expires_at', '>', sql<Date>`now()`)
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
}

/**
 * Consumes the nonce if and only if it is still open: the single statement that makes a nonce verify once.
 * Returns nothing when it was used, superseded, expired or never existed.
 */
export function consumeNonce(db: Db, nonce: string, address: string): Promise<RegistrationNonce | undefined> {
  return db
    .updateTable('registration_nonces')
    .set({ used_at: sql<Date>`now()`, used_address: address })
    .where('nonce', '=', nonce)
    .where('used_at', 'is', null)
    .where('invalidated_at', 'is', null)
    .where('expires_at', '>', sql<Date>`now()`)
    .returningAll()
    .executeTakeFirst();
}

export function findRegistrationByUserId(db: Db, userId: bigint, forUpdate = false): Promise<WalletRegistration | undefined> {
  let q = db.selectFrom('wallet_registrations').selectAll().where('user_id', '=', userId);
  if (forUpdate) q = q.forUpdate();
  return q.executeTakeFirst();
}

export function findRegistrationByDiscordId(db: Db, discordId: string): Promise<WalletRegistration | undefined> {
  return db
    .selectFrom('wallet_registrations')
    .innerJoin('users', 'users.id', 'wallet_registrations.user_id')
    .selectAll('wallet_registrations')
    .where('users.discord_id', '=', discordId)
    .executeTakeFirst();
}

/** Who else (if anyone) holds this address, as a registration or as a Solana chain credential. */
export async function otherHolderOf(db: Db, address: string, userId: bigint): Promise<bigint | undefined> {
  const row = await db
    .selectFrom('wallet_registrations')
    .select('user_id')
    .where('address', '=', address)
    .where('user_id', '<>', userId)
    .unionAll(
      db
        .selectFrom('chain_credentials')
        .select('user_id')
        .where('chain', '=', 'solana')
        .where('address', '=', address)
        .where('user_id', '<>', userId),
    )
    .executeTakeFirst();
  return row?.user_id;
}

export function upsertRegistration(
  db: Db,
  r: { userId: bigint; address: string; nonce: string; messageData: WalletMessageData },
): Promise<WalletRegistration> {
  const messageData = JSON.stringify(r.messageData);
  return db
    .insertInto('wallet_registrations')
    .values({ user_id: r.userId, address: r.address, nonce: r.nonce, message_data: messageData })
    .onConflict((oc) =>
      oc.column('user_id').doUpdateSet({ address: r.address, nonce: r.nonce, message_data: messageData, verified_at: sql<Date>`now()` }),
    )
    .returningAll()
    .executeTakeFirstOrThrow();
}

export function deleteRegistration(db: Db, userId: bigint, address: string): Promise<WalletRegistration | undefined> {
  return db
    .deleteFrom('wallet_registrations')
    .where('user_id', '=', userId)
    .where('address', '=', address)
    .returningAll()
    .executeTakeFirst();
}

export async function addSolanaCredential(db: Db, userId: bigint, address: string): Promise<void> {
  await db
    .insertInto('chain_credentials')
    .values({ user_id: userId, chain: 'solana', address })
    .onConflict((oc) => oc.columns(['chain', 'address']).doNothing())
    .execute();
}

export async function removeSolanaCredential(db: Db, userId: bigint, address: string): Promise<void> {
  await db
    .deleteFrom('chain_credentials')
    .where('user_id', '=', userId)
    .where('chain', '=', 'solana')
    .where('address', '=', address)
    .execute();
}

export interface RateLimitState {
  subject: string;
  attempts: number;
  /** Seconds until the oldest attempt in the window leaves it. */
  retryAfterSeconds: number;
}

/**
 * Sliding-window limit on failed verifications. If every subject has fewer than `limit` attempts in the window,
 * records one attempt for each and returns their ids (the caller forgets them if the attempt succeeds, so only
 * failures stay counted); otherwise records nothing and returns the subject that is over. Recording before the
 * attempt runs, under per-subject advisory locks taken in sorted order, keeps concurrent attempts within the limit
 * across replicas.
 */
export function recordAttempt(
  db: Kysely<DB>,
  subjects: string[],
  limit: number,
  windowSeconds: number,
): Promise<{ limited: RateLimitState } | { ids: bigint[] }> {
  const sorted = [...new Set(subjects)].sort();
  return db.transaction().execute(async (trx) => {
    for (const s of sorted) await advisoryXactLock(trx, LockNamespace.walletRateLimit, s);
    const rows = await trx
      .selectFrom('wallet_verify_attempts')
      .select((eb) => [
        'subject',
        eb.fn.countAll<bigint>().as('attempts'),
        sql<number>`ceil(extract(epoch FROM min(attempted_at) + make_interval(secs => ${windowSeconds}) - now()))::int`.as(
          'retry_after',
        ),
      ])
      .where('subject', 'in', sorted)
      .where('attempted_at', '>', sql<Date>`now() - make_interval(secs => ${windowSeconds})`)
      .groupBy('subject')
      .execute();
    const over = rows.find((r) => Number(r.attempts) >= limit);
    if (over) {
      return { limited: { subject: over.subject, attempts: Number(over.attempts), retryAfterSeconds: Math.max(1, over.retry_after) } };
    }
    const inserted = await trx.insertInto('wallet_verify_attempts').values(sorted.map((subject) => ({ subject }))).returning('id').execute();
    return { ids: inserted.map((r) => r.id) };
  });
}

/** Removes recorded attempts again: the attempt succeeded, and successes do not count toward the limit. */
export async function forgetAttempts(db: Db, ids: bigint[]): Promise<void> {
  if (ids.length) await db.deleteFrom('wallet_verify_attempts').where('id', 'in', ids).execute();
}

/**
 * Counts one attempt against an open nonce before its signature is checked; false when the nonce has already seen
 * `limit` of them (burned). The row lock of the UPDATE makes concurrent attempts count one by one.
 */
export async function reserveNonceAttempt(db: Db, nonce: string, limit: number): Promise<boolean> {
  const row = await db
    .updateTable('registration_nonces')
    .set((eb) => ({ failed_attempts: eb('failed_attempts', '+', 1) }))
    .where('nonce', '=', nonce)
    .where('failed_attempts', '<', limit)
    .returning('failed_attempts')
    .executeTakeFirst();
  return row !== undefined;
}

/** Takes back a reserved attempt whose signature was correct (it failed for another reason, e.g. address taken). */
export async function releaseNonceAttempt(db: Db, nonce: string): Promise<void> {
  await db
    .updateTable('registration_nonces')
    .set((eb) => ({ failed_attempts: eb('failed_attempts', '-', 1) }))
    .where('nonce', '=', nonce)
    .where('failed_attempts', '>', 0)
    .execute();
}

/**
 * How many nonces the user was issued in the last `windowSeconds`, and when the oldest of them leaves the window.
 * Takes a per-user advisory lock first, so two replicas issuing links for one user count one after the other.
 */
export async function lockAndCountRecentNonces(
  trx: Transaction<DB>,
  userId: bigint,
  windowSeconds: number,
): Promise<{ count: number; retryAfterSeconds: number }> {
  await advisoryXactLock(trx, LockNamespace.walletLink, userId.toString());
  const row = await trx
    .selectFrom('registration_nonces')
    .select((eb) => [
      eb.fn.countAll<bigint>().as('n'),
      sql<number | null>`ceil(extract(epoch FROM min(created_at) + make_interval(secs => ${windowSeconds}) - now()))::int`.as('retry_after'),
    ])
    .where('user_id', '=', userId)
    .where('created_at', '>', sql<Date>`now() - make_interval(secs => ${windowSeconds})`)
    .executeTakeFirstOrThrow();
  return { count: Number(row.n), retryAfterSeconds: Math.max(1, row.retry_after ?? 1) };
}

/**
 * Deletes up to `batchSize` nonces that expired more than `graceSeconds` ago. Every nonce expires 10 minutes after
 * issue, so this also removes used and superseded ones. Batches by ctid keep each statement short: no long lock.
 */
export async function deleteExpiredNoncesBatch(db: Db, graceSeconds: number, batchSize: number): Promise<number> {
  const r = await sql`
    DELETE FROM registration_nonces WHERE ctid IN (
      SELECT ctid FROM registration_nonces
      WHERE expires_at < now() - make_interval(secs => ${graceSeconds})
      LIMIT ${batchSize})`.execute(db);
  return Number(r.numAffectedRows ?? 0n);
}

/** Deletes up to `batchSize` rate-limit attempts older than `olderThanSeconds`. */
export async function deleteOldAttemptsBatch(db: Db, olderThanSeconds: number, batchSize: number): Promise<number> {
  const r = await sql`
    DELETE FROM wallet_verify_attempts WHERE ctid IN (
      SELECT ctid FROM wallet_verify_attempts
      WHERE attempted_at < now() - make_interval(secs => ${olderThanSeconds})
      LIMIT ${batchSize})`.execute(db);
  return Number(r.numAffectedRows ?? 0n);
}
