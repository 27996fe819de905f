import type { Kysely, Transaction } from 'kysely';
import type { DB } from '../../db/schema';
import { quote, UserError } from '../../errors';
import * as users from './users.repository';

type Db = Kysely<DB> | Transaction<DB>;

/** What a blocked member is told: nothing moved, and they can still reach staff. */
export const BLOCKED_MESSAGE =
  'Your account is blocked: you cannot move money or link a wallet. Open a ticket with `/ticket open` to talk to staff.';

/**
 * Refuses when any of the users is blocked. Inside a transaction it takes FOR SHARE locks on their rows, so a block
 * (an UPDATE of the row) that lands while the money moves waits for this transaction, and a block committed first is
 * seen here: either way the movement and the block are ordered. `self` is the acting user (told about their own block);
 * the others are counterparties (named as unable to receive).
 */
export async function refuseBlocked(db: Db, ids: { self?: string; others?: { discordId: string; username: string }[] }): Promise<void> {
  const all = [...(ids.self ? [ids.self] : []), ...(ids.others ?? []).map((o) => o.discordId)];
  if (all.length === 0) return;
  const blocked = await users.blockedAmong(db, all);
  if (blocked.size === 0) return;
  if (ids.self && blocked.has(ids.self)) throw blockedError();
  throw blockedError((ids.others ?? []).find((o) => blocked.has(o.discordId))!.username);
}

/** The refusal for a blocked acting member (no argument) or a blocked counterparty (their username). */
export function blockedError(counterparty?: string): UserError {
  if (counterparty === undefined) return new UserError('USER_BLOCKED', BLOCKED_MESSAGE);
  return new UserError('RECIPIENT_BLOCKED', `${quote(counterparty, 40)} cannot receive money: their account is blocked.`);
}
