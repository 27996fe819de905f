import { sql, type Kysely, type RawBuilder, type Transaction } from 'kysely';
import type { DB } from './schema';

/**
 * Every advisory lock in the application uses the two-key form (namespace, key). The namespaces live here, side by
 * side, so two features can never pick the same one by accident; changing a value changes which processes exclude
 * each other, so only do it when no old process runs.
 */
export const LockNamespace = {
  /** One run of a given job at a time across replicas (job-runner); key: the job name. */
  job: 0x5013,
  /** One advancer per withdrawal (withdrawals outbox); key: the withdrawal id. */
  withdrawal: 0x5014,
  /** One advancer per badge chain op (badges outbox); key: the op id. */
  badgeOp: 0x5015,
  /** Check-and-record of wallet verification attempts (wallets rate limit); key: the subject. */
  walletRateLimit: 0x5741,
  /** Check-and-insert of a member's wallet-link nonces (link cooldown); key: the user id. */
  walletLink: 0x5742,
} as const;

export type LockNamespace = (typeof LockNamespace)[keyof typeof LockNamespace];

/** Text keys are hashed; ids are folded into the int4 the two-key form takes. */
function keyOf(key: string | bigint): RawBuilder<number> {
  return typeof key === 'string' ? sql<number>`hashtext(${key})` : sql<number>`(${key.toString()}::bigint % 2147483647)::int`;
}

export type LockedResult<T> = { locked: true; value: T } | { locked: false };

/**
 * Runs `fn` while holding a session-level advisory lock, or returns `{ locked: false }` at once when another
 * session holds it. Session locks belong to a connection, so the lock is taken and released on one dedicated pool
 * connection while `fn` keeps using the pool; a crashed process releases it with its connection.
 */
export function withTryAdvisoryLock<T>(
  db: Kysely<DB>,
  namespace: LockNamespace,
  key: string | bigint,
  fn: () => Promise<T>,
): Promise<LockedResult<T>> {
  return db.connection().execute(async (conn): Promise<LockedResult<T>> => {
    const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_lock(${namespace}, ${keyOf(key)}) as locked`.execute(conn);
    if (!rows[0]?.locked) return { locked: false };
    try {
      return { locked: true, value: await fn() };
    } finally {
      await sql`select pg_advisory_unlock(${namespace}, ${keyOf(key)})`.execute(conn);
    }
  });
}

/** Waits for a transaction-level advisory lock; it is released when `trx` commits or rolls back. */
export async function advisoryXactLock(trx: Transaction<DB>, namespace: LockNamespace, key: string | bigint): Promise<void> {
  await sql`select pg_advisory_xact_lock(${namespace}, ${keyOf(key)})`.execute(trx);
}
