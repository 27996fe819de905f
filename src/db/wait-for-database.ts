import type { Kysely } from 'kysely';
import { ping } from './database';
import type { DB } from './schema';

// A replica (or a compose stack) can start while its PostgreSQL server is still starting or restarting; exiting at
// once would turn a database restart into a crash loop of every replica. Connection-level failures are waited out;
// anything that retrying cannot fix (wrong password, missing database) fails at once.

const TRANSIENT_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
/** Class 08 (connection exception) and 57P01–57P03 (admin/crash shutdown, cannot connect now: "starting up"). */
const TRANSIENT_SQLSTATE = /^(08\d\d\d|57P0[123])$/;

export function isTransientConnectError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (TRANSIENT_NODE_CODES.has(code) || TRANSIENT_SQLSTATE.test(code))) return true;
  // pg reports a socket closed mid-handshake without a code.
  return /Connection terminated/i.test(err.message);
}

export interface WaitOptions {
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

/** `select 1` until it answers; transient connection errors are retried with backoff for up to `timeoutMs`. */
export async function waitForDatabase(db: Kysely<DB>, o: WaitOptions): Promise<void> {
  const deadline = Date.now() + o.timeoutMs;
  for (let attempt = 1; ; attempt++) {
    try {
      await ping(db);
      return;
    } catch (err) {
      const delayMs = Math.min(2_000, 100 * 2 ** (attempt - 1));
      if (!isTransientConnectError(err) || Date.now() + delayMs > deadline || o.signal?.aborted) throw err;
      o.onRetry?.(err, attempt, delayMs);
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }
}
