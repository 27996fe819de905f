import type { Kysely, Transaction } from 'kysely';
import type { DB, User, UserRole } from '../../db/schema';

type Db = Kysely<DB> | Transaction<DB>;

export function findByDiscordId(db: Db, discordId: string): Promise<User | undefined> {
  return db.selectFrom('users').selectAll().where('discord_id', '=', discordId).executeTakeFirst();
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

export function setRole(db: Db, id: bigint, role: UserRole): Promise<User | undefined> {
  return db.updateTable('users').set({ role }).where('id', '=', id).returningAll().executeTakeFirst();
}

export function listCredentials(db: Db, userId: bigint) {
  return Promise.all([
    db.selectFrom('federated_credentials').select(['provider', 'subject', 'created_at']).where('user_id', '=', userId).execute(),
    db.selectFrom('chain_credentials').select(['chain', 'address', 'created_at']).where('user_id', '=', userId).execute(),
  ]).then(([federated, chain]) => ({ federated, chain }));
}
