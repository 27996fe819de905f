import type { Kysely, Transaction } from 'kysely';
import type { DB } from '../../db/schema';
import * as repo from './ledger.repository';
import type { JournalType } from './ledger.tables';

/**
 * The ledger's public API for balance changes made by other modules (deposits, withdrawals, later billing): each
 * posting is a balance change plus its journal entry, in the caller's transaction, so the caller's own row (the
 * deposit marked credited, the withdrawal inserted or refunded) commits or rolls back together with the money.
 * Other modules never import ledger.repository (lint enforces it); this layer only delegates to it, so the SQL
 * behind it can change without touching callers.
 */

type Tx = Transaction<DB>;

export interface Posting {
  userId: bigint;
  currency: string;
  amount: bigint;
  type: JournalType;
  /** Unique over the whole journal: a posting is recorded at most once per key. */
  idempotencyKey: string;
  ref: string | null;
}

/**
 * Money coming in from outside the ledger (a deposit, a refunded withdrawal): journal, then credit. Callers guard
 * idempotency with their own row first, so a journal key that is already taken means a second credit was about to
 * happen; that throws (and rolls the caller's transaction back) rather than double-count.
 */
export async function postInflow(trx: Tx, p: Posting): Promise<bigint> {
  const journalId = await repo.insertJournal(trx, { ...p, fromUserId: null, toUserId: p.userId });
  if (journalId === undefined) throw new Error(`journal already holds ${p.idempotencyKey}`);
  await repo.credit(trx, p.userId, p.currency, p.amount);
  return journalId;
}

export type OutflowResult = { ok: true; journalId: bigint; balance: bigint } | { ok: false; balance: bigint };

/**
 * Money leaving the ledger (a withdrawal): debit when the balance covers it, then journal. When it does not cover
 * it, nothing is written and the current balance comes back for the caller's message.
 */
export async function postOutflow(trx: Tx, p: Posting): Promise<OutflowResult> {
  const left = await repo.debit(trx, p.userId, p.currency, p.amount);
  if (left === undefined) return { ok: false, balance: await repo.balanceOf(trx, p.userId, p.currency) };
  const journalId = await repo.insertJournal(trx, { ...p, fromUserId: p.userId, toUserId: null });
  if (journalId === undefined) throw new Error(`journal already holds ${p.idempotencyKey}`);
  return { ok: true, journalId, balance: left };
}

export function balanceOf(db: Kysely<DB> | Tx, userId: bigint, currency: string): Promise<bigint> {
  return repo.balanceOf(db, userId, currency);
}

/** A move between a member's balance and a guild's revenue account (memberships). */
export interface RevenuePosting {
  userId: bigint;
  guildId: string;
  currency: string;
  amount: bigint;
  /** Unique over the whole journal, like {@link Posting}'s. */
  idempotencyKey: string;
  ref: string | null;
}

/**
 * A member pays a guild (`subscription_payment`): debit the member when the balance covers it, credit the guild's
 * revenue account, journal with the guild. When the balance does not cover it nothing is written.
 */
export async function postToRevenue(trx: Tx, p: RevenuePosting): Promise<OutflowResult> {
  const left = await repo.debit(trx, p.userId, p.currency, p.amount);
  if (left === undefined) return { ok: false, balance: await repo.balanceOf(trx, p.userId, p.currency) };
  const journalId = await repo.insertJournal(trx, { ...p, type: 'subscription_payment', fromUserId: p.userId, toUserId: null });
  if (journalId === undefined) throw new Error(`journal already holds ${p.idempotencyKey}`);
  await repo.creditRevenue(trx, p.guildId, p.currency, p.amount);
  return { ok: true, journalId, balance: left };
}

/**
 * A guild's revenue goes back to a member (`subscription_refund`). Undefined (nothing written) when the revenue
 * account holds less than the amount.
 */
export async function postFromRevenue(trx: Tx, p: RevenuePosting): Promise<bigint | undefined> {
  if ((await repo.debitRevenue(trx, p.guildId, p.currency, p.amount)) === undefined) return undefined;
  const journalId = await repo.insertJournal(trx, { ...p, type: 'subscription_refund', fromUserId: null, toUserId: p.userId });
  if (journalId === undefined) throw new Error(`journal already holds ${p.idempotencyKey}`);
  await repo.credit(trx, p.userId, p.currency, p.amount);
  return journalId;
}

/** Per currency, what a guild's revenue account holds (all guilds together without one). */
export function revenueOf(db: Kysely<DB> | Tx, guildId?: string): Promise<Map<string, bigint>> {
  return repo.revenue(db, guildId);
}
