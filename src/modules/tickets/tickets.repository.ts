import { sql, type Kysely, type Transaction, type Updateable } from 'kysely';
import type { DB } from '../../db/schema';
import type { TicketMessageRow, TicketPriority, TicketRow, TicketStatus, TicketsTable } from './tickets.tables';

type Db = Kysely<DB> | Transaction<DB>;

/** A ticket with the Discord ids of the people referenced by user id. */
export type TicketRecord = TicketRow & {
  claimed_by_discord_id: string | null;
  closed_by_discord_id: string | null;
};

export type TranscriptEntry = Pick<TicketMessageRow, 'id' | 'body' | 'is_staff_note' | 'created_at' | 'original_body' | 'edited_at' | 'deleted_at'> & {
  author_discord_id: string;
  author_username: string;
};

function selectTickets(db: Db) {
  return db
    .selectFrom('tickets')
    .leftJoin('users as claimer', 'claimer.id', 'tickets.claimed_by')
    .leftJoin('users as closer', 'closer.id', 'tickets.closed_by')
    .selectAll('tickets')
    .select(['claimer.discord_id as claimed_by_discord_id', 'closer.discord_id as closed_by_discord_id']);
}

export function findById(db: Db, id: bigint): Promise<TicketRecord | undefined> {
  return selectTickets(db).where('tickets.id', '=', id).executeTakeFirst();
}

export function findByThreadId(db: Db, threadId: string): Promise<TicketRecord | undefined> {
  return selectTickets(db).where('tickets.thread_id', '=', threadId).executeTakeFirst();
}

export function findBySourceInteraction(db: Db, interactionId: string): Promise<TicketRecord | undefined> {
  return selectTickets(db).where('tickets.source_interaction_id', '=', interactionId).executeTakeFirst();
}

/** Row lock for a state transition; callers re-read through findById for the joined view. */
export async function lockById(db: Transaction<DB>, id: bigint): Promise<TicketRow | undefined> {
  return db.selectFrom('tickets').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
}

/** Serialises ticket opening per user so the open-ticket limit cannot be raced past. */
export async function lockUser(db: Transaction<DB>, userId: bigint): Promise<void> {
  await db.selectFrom('users').select('id').where('id', '=', userId).forUpdate().executeTakeFirst();
}

export async function openStats(db: Db, userId: bigint): Promise<{ open: number; lastCreatedAt: Date | null }> {
  const row = await db
    .selectFrom('tickets')
    .select([
      sql<number>`count(*) FILTER (WHERE status <> 'closed')::int`.as('open'),
      sql<Date | null>`max(created_at)`.as('last_created_at'),
    ])
    .where('user_id', '=', userId)
    .executeTakeFirstOrThrow();
  return { open: row.open, lastCreatedAt: row.last_created_at };
}

export interface NewTicket {
  user_id: bigint;
  discord_id: string;
  guild_id: string | null;
  subject: string;
  description: string;
  category: string;
  priority: TicketPriority;
  source_interaction_id: string | null;
  last_activity_at: Date;
  created_at: Date;
}

export async function insertTicket(db: Db, values: NewTicket): Promise<bigint> {
  const row = await db.insertInto('tickets').values(values).returning('id').executeTakeFirstOrThrow();
  return row.id;
}

export async function updateTicket(db: Db, id: bigint, patch: Updateable<TicketsTable>): Promise<void> {
  await db.updateTable('tickets').set(patch).where('id', '=', id).execute();
}

export async function deleteTicket(db: Db, id: bigint): Promise<void> {
  await db.deleteFrom('tickets').where('id', '=', id).execute();
}

/** Deletes not-closed tickets written before `before` that never got their thread; returns their ids. */
export async function deleteThreadless(db: Db, before: Date): Promise<bigint[]> {
  const rows = await db
    .deleteFrom('tickets')
    .where('thread_id', 'is', null)
    .where('status', '<>', 'closed')
    .where('created_at', '<', before)
    .returning('id')
    .execute();
  return rows.map((r) => r.id);
}

/** Returns false when `externalId` was already recorded (a replayed message or interaction). */
export async function insertMessage(
  db: Db,
  values: { ticket_id: bigint; author_id: bigint; body: string; is_staff_note: boolean; external_id: string | null },
): Promise<boolean> {
  const row = await db
    .insertInto('ticket_messages')
    .values(values)
    .onConflict((oc) => oc.column('external_id').doNothing())
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

/** A transcribed message not deleted yet, by its Discord message id (external_id). */
function liveTranscribed(db: Db, ticketId: bigint, externalId: string) {
  return db.updateTable('ticket_messages').where('ticket_id', '=', ticketId).where('external_id', '=', externalId).where('deleted_at', 'is', null);
}

/**
 * An edit of a transcribed message: the new body, the first one kept once. Discord also sends MESSAGE_UPDATE when
 * nothing written changed (an embed resolved): same text, no edit. False when no row changed.
 */
export async function editMessage(db: Db, ticketId: bigint, externalId: string, body: string, at: Date): Promise<boolean> {
  const set = liveTranscribed(db, ticketId, externalId).set((eb) => ({ original_body: eb.fn.coalesce('original_body', 'body'), body, edited_at: at }));
  return (await set.where('body', '<>', body).returning('id').executeTakeFirst()) !== undefined;
}

/** Marks a transcribed message deleted (its text stays in the record); false when unknown or already marked. */
export async function markMessageDeleted(db: Db, ticketId: bigint, externalId: string, at: Date): Promise<boolean> {
  return (await liveTranscribed(db, ticketId, externalId).set({ deleted_at: at }).returning('id').executeTakeFirst()) !== undefined;
}

/** A Discord id (message or interaction) as a number; null for anything else. */
const SNOWFLAKE = sql<string | null>`(CASE WHEN m.external_id ~ '^[0-9]{15,20}$' THEN m.external_id::numeric END)`;
/** When Discord says the message was posted (the snowflake's millisecond), else when it was recorded. */
const POSTED_AT = sql<Date>`coalesce(to_timestamp((floor(${SNOWFLAKE} / 4194304) + 1420070400000) / 1000.0), m.created_at)`;

/**
 * In the order the messages were posted, not recorded: thread messages arrive as gateway events that can be handled
 * concurrently (or replayed after a resume), so two lines written within milliseconds may commit in either order.
 * Their Discord ids (snowflakes) carry the posting time and, within a millisecond, Discord's own order; rows without
 * one (notes and replies from the admin API) go by their recording time.
 */
export function transcript(db: Db, ticketId: bigint, includeStaffNotes: boolean): Promise<TranscriptEntry[]> {
  let q = db
    .selectFrom('ticket_messages as m')
    .innerJoin('users as u', 'u.id', 'm.author_id')
    .select(['m.id', 'm.body', 'm.is_staff_note', 'm.created_at', 'm.original_body', 'm.edited_at', 'm.deleted_at'])
    .select(['u.discord_id as author_discord_id', 'u.username as author_username'])
    .where('m.ticket_id', '=', ticketId);
  if (!includeStaffNotes) q = q.where('m.is_staff_note', '=', false);
  return q.orderBy(POSTED_AT).orderBy(SNOWFLAKE).orderBy('m.id').execute();
}

export interface ListFilter {
  status?: TicketStatus;
  /** Not closed (the staff queue). Ignored when `status` is set. */
  active?: boolean;
  priority?: TicketPriority;
  userId?: bigint;
  claimedBy?: bigint;
  guildId?: string;
  /** Keyset: tickets with id below this. */
  beforeId?: bigint;
  limit: number;
}

/** Newest first; one extra row tells the caller whether there is a next page. */
export function list(db: Db, f: ListFilter): Promise<TicketRecord[]> {
  let q = selectTickets(db);
  if (f.status) q = q.where('tickets.status', '=', f.status);
  else if (f.active) q = q.where('tickets.status', '<>', 'closed');
  if (f.priority) q = q.where('tickets.priority', '=', f.priority);
  if (f.userId !== undefined) q = q.where('tickets.user_id', '=', f.userId);
  if (f.claimedBy !== undefined) q = q.where('tickets.claimed_by', '=', f.claimedBy);
  if (f.guildId !== undefined) q = q.where('tickets.guild_id', '=', f.guildId);
  if (f.beforeId !== undefined) q = q.where('tickets.id', '<', f.beforeId);
  return q.orderBy('tickets.id', 'desc').limit(f.limit + 1).execute();
}

/** Guilds (null = none) that have tickets not closed: the auto-close job applies each guild's own hours. */
export async function guildsWithActiveTickets(db: Db): Promise<(string | null)[]> {
  const rows = await db.selectFrom('tickets').select('guild_id').distinct().where('status', '<>', 'closed').execute();
  return rows.map((r) => r.guild_id);
}

/**
 * Not-closed tickets of `guildId` silent since `before`, longest silent first: with `warnedBefore` null those not
 * warned yet (due for the warning), otherwise those warned at or before it (due for the close).
 */
export function silentTickets(db: Db, guildId: string | null, before: Date, warnedBefore: Date | null, limit: number): Promise<TicketRecord[]> {
  return selectTickets(db)
    .where('tickets.guild_id', guildId === null ? 'is' : '=', guildId)
    .where('tickets.status', '<>', 'closed')
    .where('tickets.last_activity_at', '<', before)
    .where('tickets.warned_at', warnedBefore ? '<=' : 'is', warnedBefore)
    .orderBy('tickets.last_activity_at')
    .limit(limit)
    .execute();
}

/** Marks the warning only if nothing happened in between (activity resets the clock). */
export async function markWarned(db: Db, id: bigint, lastActivityAt: Date, now: Date): Promise<boolean> {
  const r = await db
    .updateTable('tickets')
    .set({ warned_at: now })
    .where('id', '=', id)
    .where('status', '<>', 'closed')
    .where('warned_at', 'is', null)
    .where('last_activity_at', '=', lastActivityAt)
    .executeTakeFirst();
  return r.numUpdatedRows > 0n;
}
