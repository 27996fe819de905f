import { sql, type Kysely, type RawBuilder, type Transaction } from 'kysely';
import pg from 'pg';
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
  /** Taken in SQL by ledger_tip() (migration 2026_11_28_221000): attempts of one tip take turns; key: hashtext('<kind>:<interaction>'). */
  tipInteraction: 0x5460,
  /** Taken in SQL by ledger_tip(): try-lock before crediting a receiver's row in place; key: the user id mod 2147483647. */
  tipReceiver: 0x5461,
} as const;

export type LockNamespace = (typeof LockNamespace)[keyof typeof LockNamespace];

/** Text keys are hashed; ids are folded into the int4 the two-key form takes. */
function keyOf(key: string | bigint): RawBuilder<number> {
  return typeof key === 'string' ? sql<number>`hashtext(${key})` : sql<number>`(${key.toString()}::bigint % 2147483647)::int`;
}

export type LockedResult<T> = { locked: true; value: T } | { locked: false };

/**
 * Session-level advisory locks held on one connection per pool, outside the pool. Taking the lock on a pooled
 * connection and then doing the work on the pool is hold-and-wait: when as many lock holders as the pool has
 * connections start at once (jobs due in the same tick, withdrawals advanced together), every connection holds a
 * lock and waits for a second one that never frees, and the locks that process keeps make every other replica skip
 * that work for good. Here the lock holder never takes a pooled connection, so the work always gets one eventually.
 * Takes and releases are serialized on that one connection; pg_try_advisory_lock never waits, so none queues long.
 *
 * Postgres lets a session retake a lock it already holds, so exclusion inside the process is by the `held` set; the
 * server excludes other processes. When the connection dies (a database restart, a failover, a terminated backend)
 * Postgres has already released every lock on it: holders are told through their AbortSignal, and the next take
 * opens a new connection.
 */
class SessionLockConnection {
  private client: pg.Client | undefined;
  private connecting: Promise<pg.Client> | undefined;
  /** The holders' abort controllers by lock; aborted (and forgotten) when the connection is lost. */
  private readonly held = new Map<string, AbortController>();
  private idleTimer: NodeJS.Timeout | undefined;
  /** The tail of the queries on the connection: each waits for the one before (one query at a time per client). */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly config: pg.ClientConfig) {}

  async tryLock(namespace: LockNamespace, key: string | bigint): Promise<AbortSignal | undefined> {
    const id = `${namespace}:${typeof key}:${String(key)}`;
    if (this.held.has(id)) return undefined;
    const holder = new AbortController();
    // Reserved before the await, so a second caller in this process sees it at once.
    this.held.set(id, holder);
    try {
      const { rows } = await this.serial(async () =>
        (await this.connect()).query<{ locked: boolean }>(`select pg_try_advisory_lock($1, ${keySql(key, '$2')}) as locked`, [namespace, keyParam(key)]),
      );
      if (rows[0]?.locked) return holder.signal;
    } catch (err) {
      this.forget(id, holder);
      throw err;
    }
    this.forget(id, holder);
    return undefined;
  }

  async unlock(namespace: LockNamespace, key: string | bigint, signal: AbortSignal): Promise<void> {
    const id = `${namespace}:${typeof key}:${String(key)}`;
    const holder = this.held.get(id);
    // Lost with its connection: Postgres released it already, and a new holder may have it by now.
    if (signal.aborted || holder?.signal !== signal) return;
    try {
      await this.serial(async () => this.client?.query(`select pg_advisory_unlock($1, ${keySql(key, '$2')})`, [namespace, keyParam(key)]));
    } finally {
      this.forget(id, holder);
    }
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn);
    this.tail = next.catch(() => undefined);
    return next;
  }

  private forget(id: string, holder: AbortController): void {
    if (this.held.get(id) === holder) this.held.delete(id);
    // An idle lock connection is closed after a while so that a process that stops taking locks (or a test that
    // destroys its pool) is not kept alive by it; unref'd, it never holds the event loop open by itself.
    if (this.held.size === 0 && !this.idleTimer) {
      this.idleTimer = setTimeout(() => {
        this.idleTimer = undefined;
        if (this.held.size === 0) this.drop(false);
      }, 2000).unref();
    }
  }

  private connect(): Promise<pg.Client> {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (this.client) return Promise.resolve(this.client);
    this.connecting ??= (async () => {
      const client = new pg.Client({ ...this.config, application_name: LOCK_CONNECTION_NAME });
      // An 'error' on a client nobody listens to kills the process: a lost lock connection is handled, not fatal.
      client.on('error', () => this.lost(client));
      client.on('end', () => this.lost(client));
      try {
        await client.connect();
      } catch (err) {
        client.removeAllListeners();
        client.on('error', () => undefined);
        throw err;
      } finally {
        this.connecting = undefined;
      }
      this.client = client;
      return client;
    })();
    return this.connecting;
  }

  private lost(client: pg.Client): void {
    if (this.client !== client) return;
    this.drop(true);
  }

  private drop(abortHolders: boolean): void {
    const client = this.client;
    this.client = undefined;
    if (abortHolders) {
      const holders = [...this.held.values()];
      this.held.clear();
      for (const h of holders) h.abort(new Error('the advisory lock connection was lost; Postgres released its locks'));
    }
    if (client) {
      client.removeAllListeners();
      client.on('error', () => undefined);
      void client.end().catch(() => undefined);
    }
  }
}

/** The lock connection's application_name, so operators (and tests) can find it in pg_stat_activity. */
export const LOCK_CONNECTION_NAME = 'solbound-locks';

function keyParam(key: string | bigint): string {
  return typeof key === 'string' ? key : key.toString();
}

/** The same key folding as keyOf, for the lock connection's parameterized queries. */
function keySql(key: string | bigint, param: string): string {
  return typeof key === 'string' ? `hashtext(${param}::text)` : `(${param}::bigint % 2147483647)::int`;
}

const lockConnections = new WeakMap<Kysely<DB>, SessionLockConnection>();

/** Gives `db` its lock connection, to the same server and database as `pool` (called by createDb). */
export function registerLockConnection(db: Kysely<DB>, pool: pg.Pool): void {
  lockConnections.set(db, new SessionLockConnection(pool.options as pg.ClientConfig));
}

/**
 * Runs `fn` while holding a session-level advisory lock, or returns `{ locked: false }` at once when another holder
 * (in this process or another) has it. The lock lives on the pool's dedicated lock connection (see
 * SessionLockConnection), never on a pooled one, so `fn` can use the pool freely. `fn` gets a signal that aborts when
 * that connection is lost, i.e. when the lock no longer excludes anyone: it must stop at its next step.
 */
export async function withTryAdvisoryLock<T>(
  db: Kysely<DB>,
  namespace: LockNamespace,
  key: string | bigint,
  fn: (lockLost: AbortSignal) => Promise<T>,
): Promise<LockedResult<T>> {
  const locks = lockConnections.get(db);
  if (!locks) throw new Error('withTryAdvisoryLock: this Kysely instance was not made by createDb (no lock connection)');
  const signal = await locks.tryLock(namespace, key);
  if (!signal) return { locked: false };
  try {
    return { locked: true, value: await fn(signal) };
  } finally {
    await locks.unlock(namespace, key, signal);
  }
}

/** Waits for a transaction-level advisory lock; it is released when `trx` commits or rolls back. */
export async function advisoryXactLock(trx: Transaction<DB>, namespace: LockNamespace, key: string | bigint): Promise<void> {
  await sql`select pg_advisory_xact_lock(${namespace}, ${keyOf(key)})`.execute(trx);
}
