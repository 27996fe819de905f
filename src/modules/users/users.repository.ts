import type { Kysely, Transaction } from 'kysely';
import type { DB, User, UserRole } from '../../db/schema';

type Db = Kysely<DB> | Transaction<DB>;

export function findByDiscordId(db: Db, discordId: string): Promise<User | undefined> {
  return db.selectFrom('users').selectAll().where('discord_id', '=', discordId).executeTakeFirst();
}

/** Who to ensure a users row for: the Discord identity as seen in an interaction. */
export interface UserRef {
  discordId: string;
  username: string;
}

/**
 * Inserts missing users (sorted, so concurrent batches cannot deadlock; existing rows are left untouched) and
 * returns discord id → user id.
 */
export async function ensureIds(db: Db, users: UserRef[]): Promise<Map<string, bigint>> {
  if (users.length === 0) return new Map();
  const sorted = [...new Map(users.map((u) => [u.discordId, u])).values()].sort((a, b) => (a.discordId < b.discordId ? -1 : 1));
  await db
    .insertInto('users')
    .values(sorted.map((u) => ({ discord_id: u.discordId, username: u.username })))
    .onConflict((oc) => oc.column('discord_id').doNothing())
    .execute();
  const rows = await db
    .selectFrom('users')
    .select(['id', 'discord_id'])
    .where('discord_id', 'in', sorted.map((u) => u.discordId))
    .execute();
  return new Map(rows.map((r) => [r.discord_id, r.id]));
}

export async function ensureId(db: Db, user: UserRef): Promise<bigint> {
  return (await ensureIds(db, [user])).get(user.discordId)!;
}

export function findById(db: Db, id: bigint): Promise<User | undefined> {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Inserts the user or refreshes the username; one round trip, safe under concurrency. */
export function upsertByDiscordId(db: Db, discordId: string, username: string): Promise<User> {
  return db
    .insertInto('users')
    .values({ discord_id: discordId, username })
    .onConflict((oc) =>
      oc
        .column('discord_id')
        .doUpdateSet({ username })
        // Skip the write (and the updated_at bump) when nothing changed.
        .where('users.username', 'is distinct from', username),
    )
    .returningAll()
    .executeTakeFirst()
    .then(async (row) => row ?? (await findByDiscordId(db, discordId))!);
}

export function lockById(db: Transaction<DB>, id: bigint): Promise<User | undefined> {
  return db.selectFrom('users').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
}

export function setRole(db: Db, id: bigint, role: UserRole): Promise<User | undefined> {
  return db.updateTable('users').set({ role }).where('id', '=', id).returningAll().executeTakeFirst();
}

export function listCredentials(db: Db, userId: bigint) {
  return Promise.all([
    db.selectFrom('federated_credentials').select(['provider', 'subject', 'created_at']).where('user_id', '=', userId).execute(),
    db.selectFrom('chain_credentials').select(['chain', 'address', 'created_at']).where('user_id', '=', userId).execute(),
  ]).then(([federated, chain]) => ({ federated, chain }));
}

/**
 * The discord ids among `discordIds` whose users are blocked. Locks the existing rows FOR SHARE (in sorted order,
 * so concurrent callers cannot deadlock): a concurrent block waits for the caller's transaction to end.
 */
export async function blockedAmong(db: Db, discordIds: string[]): Promise<Set<string>> {
  const sorted = [...new Set(discordIds)].sort();
  const rows = await db
    .selectFrom('users')
    .select(['discord_id', 'is_blocked'])
    .where('discord_id', 'in', sorted)
    .orderBy('discord_id')
    .forShare()
    .execute();
  return new Set(rows.filter((r) => r.is_blocked).map((r) => r.discord_id));
}

/** Locks one user's row FOR UPDATE (serializes that user's withdrawals) and returns it. */
export function lockForUpdate(db: Db, id: bigint): Promise<User | undefined> {
  return db.selectFrom('users').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
}

/** Sets or clears the block; undefined when the user does not exist. Returns the row before the change too. */
export async function setBlocked(db: Db, discordId: string, blocked: boolean, reason: string | null): Promise<{ before: User; after: User } | undefined> {
  const before = await db.selectFrom('users').selectAll().where('discord_id', '=', discordId).forUpdate().executeTakeFirst();
  if (!before) return undefined;
  const after = await db
    .updateTable('users')
    .set(blocked ? { is_blocked: true, blocked_reason: reason, blocked_at: before.is_blocked ? before.blocked_at : new Date() } : { is_blocked: false, blocked_reason: null, blocked_at: null })
    .where('id', '=', before.id)
    .returningAll()
    .executeTakeFirstOrThrow();
  return { before, after };
}
