/**
 * What a Postgres error means to the application. Services ask these questions instead of comparing SQLSTATE
 * strings, so the codes (standard and our own RAISE ... ERRCODE ones) are written down in exactly one place.
 */

/** The fields of pg's DatabaseError this module reads; anything else thrown simply matches nothing. */
interface PgErrorFields {
  code?: unknown;
  constraint?: unknown;
  detail?: unknown;
  hint?: unknown;
}

const UNIQUE_VIOLATION = '23505';
// Both mean "a concurrent transaction won; running yours again from the start can succeed".
const RETRYABLE = new Set(['40001' /* serialization_failure */, '40P01' /* deadlock_detected */]);

/**
 * SQLSTATEs raised by ledger_tip() (migrations 001000 and 140000). Postgres allows five-character codes outside the
 * standard classes; ours start with SB.
 */
const LEDGER_INSUFFICIENT_FUNDS = 'SB001';
const LEDGER_IDEMPOTENCY_CONFLICT = 'SB002';
// ledger_tip() since migration 2026_11_28_190100.
const LEDGER_SENDER_BLOCKED = 'SB003';
const LEDGER_RECEIVER_BLOCKED = 'SB004';
const LEDGER_API_KEY_REUSED = 'SB005';
const LEDGER_UNKNOWN_RECEIVER = 'SB006';

function fields(err: unknown): PgErrorFields {
  return typeof err === 'object' && err !== null ? (err as PgErrorFields) : {};
}

export function sqlState(err: unknown): string | undefined {
  const { code } = fields(err);
  return typeof code === 'string' ? code : undefined;
}

/**
 * A UNIQUE constraint refused the row. With `constraints`, only when it was one of those (by name), so an
 * unrelated duplicate is not mistaken for the race the caller is handling.
 */
export function isUniqueViolation(err: unknown, constraints?: readonly string[]): boolean {
  if (sqlState(err) !== UNIQUE_VIOLATION) return false;
  if (!constraints) return true;
  const { constraint } = fields(err);
  return typeof constraint === 'string' && constraints.includes(constraint);
}

/** Serialization failure or deadlock: the transaction was rolled back and may simply be run again. */
export function isRetryable(err: unknown): boolean {
  const code = sqlState(err);
  return code !== undefined && RETRYABLE.has(code);
}

export const DEFAULT_RETRY_ATTEMPTS = 6;

/**
 * Runs `fn` (which must open its own transaction) again after serialization failures and deadlocks, with a short
 * random back-off so the contenders do not collide again in lockstep. Other errors, and the last retryable one,
 * are thrown unchanged.
 */
export async function retryOnSerialization<T>(fn: () => Promise<T>, attempts = DEFAULT_RETRY_ATTEMPTS): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isRetryable(err) || attempt >= attempts) throw err;
      await new Promise((r) => setTimeout(r, Math.random() * 5 * attempt));
    }
  }
}

export type LedgerFailure =
  /** The sender's balance does not cover the tip; `balance` is what it held (the error's DETAIL). */
  | { kind: 'insufficient_funds'; balance: bigint }
  /** The interaction id was already used for a tip with different recipients. */
  | { kind: 'idempotency_conflict' }
  /** The sender is blocked. */
  | { kind: 'sender_blocked' }
  /** A receiver is blocked (the first one named); `username` is the one the database has. */
  | { kind: 'receiver_blocked'; discordId: string; username: string }
  /** The partner API's Idempotency-Key was already used with another request body. */
  | { kind: 'api_key_reused' }
  /** The partner API named a receiver the bot does not know. */
  | { kind: 'unknown_receiver'; discordId: string };

/** Classifies an error raised by the ledger's plpgsql functions; undefined for anything else. */
export function ledgerFailure(err: unknown): LedgerFailure | undefined {
  const code = sqlState(err);
  if (code === LEDGER_INSUFFICIENT_FUNDS) {
    const { detail } = fields(err);
    return { kind: 'insufficient_funds', balance: BigInt(typeof detail === 'string' && /^\d+$/.test(detail) ? detail : '0') };
  }
  if (code === LEDGER_IDEMPOTENCY_CONFLICT) return { kind: 'idempotency_conflict' };
  if (code === LEDGER_SENDER_BLOCKED) return { kind: 'sender_blocked' };
  const { detail, hint } = fields(err);
  const text = (x: unknown) => (typeof x === 'string' ? x : '');
  if (code === LEDGER_RECEIVER_BLOCKED) return { kind: 'receiver_blocked', discordId: text(detail), username: text(hint) };
  if (code === LEDGER_API_KEY_REUSED) return { kind: 'api_key_reused' };
  if (code === LEDGER_UNKNOWN_RECEIVER) return { kind: 'unknown_receiver', discordId: text(detail) };
  return undefined;
}
