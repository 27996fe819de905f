import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { DB } from '../../db/schema';
import type { UserRef } from '../users/users.accounts';
import type { AirdropsTable, JournalType, TipKind } from './ledger.tables';

type Db = Kysely<DB> | Transaction<DB>;

export interface TipRow {
  replayed: boolean;
  tip_ids: bigint[];
  sender_id: bigint;
  receiver_ids: bigint[];
  each_amount: bigint;
  sender_balance: bigint;
}

/** One round trip: the plpgsql ledger_tip() does users, idempotency, ordered locks, debit, credits and journal. */
export async function tip(
  db: Db,
  args: {
    interactionId: string;
    kind: TipKind;
    currency: string;
    each: bigint;
    note: string | null;
    sender: UserRef;
    receivers: UserRef[];
    guildId: string | null;
  },
): Promise<TipRow> {
  const { rows } = await sql<TipRow>`
    select * from ledger_tip(
      ${args.interactionId}, ${args.kind}, ${args.currency}, ${args.each.toString()}::numeric, ${args.note},
      ${args.sender.discordId}, ${args.sender.username},
      ${args.receivers.map((r) => r.discordId)}::text[], ${args.receivers.map((r) => r.username)}::text[],
      ${args.guildId}::text
    )`.execute(db);
  return rows[0]!;
}

export function balancesOf(db: Db, userId: bigint) {
  return db.selectFrom('balances').select(['currency', 'amount']).where('user_id', '=', userId).execute();
}

export async function balanceOf(db: Db, userId: bigint, currency: string): Promise<bigint> {
  const row = await db
    .selectFrom('balances')
    .select('amount')
    .where('user_id', '=', userId)
    .where('currency', '=', currency)
    .executeTakeFirst();
  return row?.amount ?? 0n;
}

/** Adds to a balance, creating the row; locks just that one row. Returns the new amount. */
export async function credit(db: Db, userId: bigint, currency: string, amount: bigint): Promise<bigint> {
  const row = await db
    .insertInto('balances')
    .values({ user_id: userId, currency, amount: amount.toString() })
    .onConflict((oc) => oc.columns(['user_id', 'currency']).doUpdateSet({ amount: sql`balances.amount + excluded.amount` }))
    .returning('amount')
    .executeTakeFirstOrThrow();
  return row.amount;
}

/** Subtracts when the balance covers it; undefined when it does not (nothing changed). */
export async function debit(db: Db, userId: bigint, currency: string, amount: bigint): Promise<bigint | undefined> {
  const row = await db
    .updateTable('balances')
    .set({ amount: sql`amount - ${amount.toString()}::numeric` })
    .where('user_id', '=', userId)
    .where('currency', '=', currency)
    .where('amount', '>=', sql<bigint>`${amount.toString()}::numeric`)
    .returning('amount')
    .executeTakeFirst();
  return row?.amount;
}

export interface JournalInsert {
  type: JournalType;
  fromUserId: bigint | null;
  toUserId: bigint | null;
  amount: bigint;
  currency: string;
  idempotencyKey: string;
  ref: string | null;
}

/** Undefined when the idempotency key was already used (the caller treats the operation as done). */
export async function insertJournal(db: Db, e: JournalInsert): Promise<bigint | undefined> {
  const row = await db
    .insertInto('journal')
    .values({
      type: e.type,
      from_user_id: e.fromUserId,
      to_user_id: e.toUserId,
      amount: e.amount.toString(),
      currency: e.currency,
      idempotency_key: e.idempotencyKey,
      ref: e.ref,
    })
    .onConflict((oc) => oc.column('idempotency_key').doNothing())
    .returning('id')
    .executeTakeFirst();
  return row?.id;
}

export async function historyPage(db: Db, userId: bigint, limit: number, offset: number) {
  const [rows, count] = await Promise.all([
    db
      .selectFrom('journal as j')
      .leftJoin('users as f', 'f.id', 'j.from_user_id')
      .leftJoin('users as t', 't.id', 'j.to_user_id')
      .select([
        'j.id',
        'j.type',
        'j.from_user_id',
        'j.to_user_id',
        'j.amount',
        'j.currency',
        'j.status',
        'j.ref',
        'j.created_at',
        'f.discord_id as from_discord_id',
        't.discord_id as to_discord_id',
      ])
      .where((eb) => eb.or([eb('j.from_user_id', '=', userId), eb('j.to_user_id', '=', userId)]))
      .orderBy('j.id', 'desc')
      .limit(limit)
      .offset(offset)
      .execute(),
    db
      .selectFrom('journal')
      .select((eb) => eb.fn.countAll<bigint>().as('n'))
      .where((eb) => eb.or([eb('from_user_id', '=', userId), eb('to_user_id', '=', userId)]))
      .executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.n) };
}

export function topTippers(db: Db, currency: string, since: Date | null, guildId: string | null, limit: number) {
  return topTippersQuery(db, currency, since, guildId, limit).execute();
}

/** `guildId` null = bot-wide; otherwise only tips sent in that guild (served by tips_guild_leaderboard_idx). */
export function topTippersQuery(db: Db, currency: string, since: Date | null, guildId: string | null, limit: number) {
  // Aggregate by sender id first and join users for the top rows only.
  let totals = db
    .selectFrom('tips as t')
    .select((eb) => ['t.sender_id', eb.fn.sum<bigint>('t.amount').as('total'), eb.fn.countAll<bigint>().as('tips')])
    .where('t.currency', '=', currency)
    .groupBy('t.sender_id');
  if (since) totals = totals.where('t.created_at', '>=', since);
  if (guildId !== null) totals = totals.where('t.guild_id', '=', guildId);
  return db
    .selectFrom(totals.as('s'))
    .innerJoin('users as u', 'u.id', 's.sender_id')
    .select(['u.discord_id', 'u.username', 's.total', 's.tips'])
    .orderBy('s.total', 'desc')
    .orderBy('u.discord_id')
    .limit(limit);
}

/** At most one write per member per minute: activity is a recency signal, not an audit log. */
export async function touchActivity(db: Db, guildId: string, userId: bigint): Promise<void> {
  await db
    .insertInto('member_activity')
    .values({ guild_id: guildId, user_id: userId })
    .onConflict((oc) =>
      oc
        .columns(['guild_id', 'user_id'])
        .doUpdateSet({ last_active_at: sql`now()` })
        .where('member_activity.last_active_at', '<', sql<Date>`now() - interval '1 minute'`),
    )
    .execute();
}

export function recentlyActive(db: Db, guildId: string, excludeUserId: bigint, since: Date, limit: number) {
  return db
    .selectFrom('member_activity as a')
    .innerJoin('users as u', 'u.id', 'a.user_id')
    .select(['u.id', 'u.discord_id', 'u.username'])
    .where('a.guild_id', '=', guildId)
    .where('a.user_id', '<>', excludeUserId)
    .where('a.last_active_at', '>=', since)
    .where('u.is_blocked', '=', false)
    .orderBy('a.last_active_at', 'desc')
    .orderBy('a.user_id')
    .limit(limit)
    .execute();
}

// ---------------------------------------------------------------- airdrops

export function insertAirdrop(
  db: Db,
  a: {
    interactionId: string;
    creatorId: bigint;
    currency: string;
    perClaim: bigint;
    claims: number;
    expiresAt: Date;
    guildId: string | null;
    channelId: string | null;
  },
) {
  const total = a.perClaim * BigInt(a.claims);
  return db
    .insertInto('airdrops')
    .values({
      interaction_id: a.interactionId,
      creator_id: a.creatorId,
      currency: a.currency,
      total_amount: total.toString(),
      per_claim_amount: a.perClaim.toString(),
      claims_allowed: a.claims,
      remaining_amount: total.toString(),
      expires_at: a.expiresAt,
      guild_id: a.guildId,
      channel_id: a.channelId,
    })
    .onConflict((oc) => oc.column('interaction_id').doNothing())
    .returningAll()
    .executeTakeFirst();
}

export function findAirdrop(db: Db, id: bigint) {
  return db.selectFrom('airdrops').selectAll().where('id', '=', id).executeTakeFirst();
}

export function findAirdropByInteraction(db: Db, interactionId: string) {
  return db.selectFrom('airdrops').selectAll().where('interaction_id', '=', interactionId).executeTakeFirst();
}

export async function setAirdropMessage(db: Db, id: bigint, channelId: string, messageId: string): Promise<void> {
  await db.updateTable('airdrops').set({ channel_id: channelId, message_id: messageId }).where('id', '=', id).execute();
}

export async function insertClaim(db: Db, airdropId: bigint, userId: bigint, amount: bigint): Promise<boolean> {
  const row = await db
    .insertInto('airdrop_claims')
    .values({ airdrop_id: airdropId, user_id: userId, amount: amount.toString() })
    .onConflict((oc) => oc.columns(['airdrop_id', 'user_id']).doNothing())
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

/** Takes one claim slot if the airdrop is open, unexpired and not exhausted; locks the airdrop row. */
export function takeClaimSlot(db: Db, airdropId: bigint) {
  return db
    .updateTable('airdrops')
    .set((eb) => ({
      claims_made: eb('claims_made', '+', 1),
      remaining_amount: sql`remaining_amount - per_claim_amount`,
      status: sql`case when claims_made + 1 = claims_allowed then 'completed' else status end`,
      closed_at: sql`case when claims_made + 1 = claims_allowed then now() else closed_at end`,
    }))
    .where('id', '=', airdropId)
    .where('status', '=', 'open')
    .where('expires_at', '>', sql<Date>`now()`)
    .where('claims_made', '<', sql<number>`claims_allowed`)
    .returningAll()
    .executeTakeFirst();
}

/**
 * Closes up to `limit` expired open airdrops and refunds what is left to their creators, in one statement; returns
 * the closed rows. SKIP LOCKED leaves an airdrop that is being claimed right now to the next run.
 */
export async function expireAirdrops(db: Db, limit: number): Promise<Selectable<AirdropsTable>[]> {
  const { rows } = await sql<Selectable<AirdropsTable>>`
    with picked as (
      select id, creator_id, currency, remaining_amount from airdrops
      where status = 'open' and expires_at <= now()
      order by id limit ${limit}
      for update skip locked
    ), closed as (
      update airdrops a set status = 'expired', remaining_amount = 0, closed_at = now()
      from picked p where a.id = p.id
      returning a.*
    ), credited as (
      insert into balances (user_id, currency, amount)
      select creator_id, currency, sum(remaining_amount) from picked where remaining_amount > 0
      group by creator_id, currency order by creator_id, currency
      on conflict (user_id, currency) do update set amount = balances.amount + excluded.amount
      returning 1
    ), journaled as (
      insert into journal (type, from_user_id, to_user_id, amount, currency, idempotency_key, ref)
      select 'airdrop_refund', null, creator_id, remaining_amount, currency, 'airdrop_refund:' || id, 'airdrop:' || id
      from picked where remaining_amount > 0
      returning 1
    )
    -- Data-modifying CTEs always run to completion, referenced or not.
    select * from closed order by id`.execute(db);
  return rows;
}

// ---------------------------------------------------------------- confirmations

export async function upsertConfirmation(db: Db, c: { interactionId: string; senderDiscordId: string; request: unknown; expiresAt: Date }) {
  // DO UPDATE (a no-op write) rather than DO NOTHING so a retried interaction gets the existing row back.
  return db
    .insertInto('tip_confirmations')
    .values({ interaction_id: c.interactionId, sender_discord_id: c.senderDiscordId, request: JSON.stringify(c.request), expires_at: c.expiresAt })
    .onConflict((oc) => oc.column('interaction_id').doUpdateSet({ interaction_id: sql`excluded.interaction_id` }))
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Deletes up to `limit` confirmations that expired more than `retention` (an SQL interval) ago, oldest first. */
export async function deleteExpiredConfirmations(db: Db, retention: string, limit: number): Promise<number> {
  const result = await db
    .deleteFrom('tip_confirmations')
    .where(
      'id',
      'in',
      db
        .selectFrom('tip_confirmations')
        .select('id')
        .where('expires_at', '<', sql<Date>`now() - ${retention}::interval`)
        .orderBy('expires_at')
        .limit(limit),
    )
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

export function findConfirmation(db: Db, id: bigint) {
  return db.selectFrom('tip_confirmations').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Marks it confirmed (again, for a double click) while pending and unexpired; locks the row. */
export function markConfirmed(db: Db, id: bigint, senderDiscordId: string) {
  return db
    .updateTable('tip_confirmations')
    .set({ status: 'confirmed', decided_at: sql`coalesce(decided_at, now())` })
    .where('id', '=', id)
    .where('sender_discord_id', '=', senderDiscordId)
    .where((eb) => eb.or([eb('status', '=', 'confirmed'), eb.and([eb('status', '=', 'pending'), eb('expires_at', '>', sql<Date>`now()`)])]))
    .returningAll()
    .executeTakeFirst();
}

export function markCanceled(db: Db, id: bigint, senderDiscordId: string) {
  return db
    .updateTable('tip_confirmations')
    .set({ status: 'canceled', decided_at: sql`now()` })
    .where('id', '=', id)
    .where('sender_discord_id', '=', senderDiscordId)
    .where('status', 'in', ['pending', 'canceled'])
    .returningAll()
    .executeTakeFirst();
}

/**
 * Per currency, what open airdrops still hold in escrow. Owed to members (claimers or the creator's refund) just like
 * balances, so solvency and conservation checks must count it: Σ balances + open escrow = Σ inflows − Σ outflows.
 */
export async function openEscrow(db: Db): Promise<Map<string, bigint>> {
  const rows = await db
    .selectFrom('airdrops')
    .select((eb) => ['currency', eb.fn.sum<bigint>('remaining_amount').as('amount')])
    .where('status', '=', 'open')
    .groupBy('currency')
    .execute();
  return new Map(rows.map((r) => [r.currency, BigInt(r.amount)]));
}

// ---------------------------------------------------------------- per-user settings

export async function confirmAboveOf(db: Db, discordId: string, currency: string): Promise<bigint | undefined> {
  const row = await db
    .selectFrom('tip_settings as s')
    .innerJoin('users as u', 'u.id', 's.user_id')
    .select('s.confirm_above')
    .where('u.discord_id', '=', discordId)
    .where('s.currency', '=', currency)
    .executeTakeFirst();
  return row?.confirm_above;
}

export async function setConfirmAbove(db: Db, userId: bigint, currency: string, amount: bigint): Promise<void> {
  await db
    .insertInto('tip_settings')
    .values({ user_id: userId, currency, confirm_above: amount.toString() })
    .onConflict((oc) => oc.columns(['user_id', 'currency']).doUpdateSet({ confirm_above: amount.toString() }))
    .execute();
}
