import type { Insertable, Kysely, Transaction } from 'kysely';
import type { DB } from '../../db/schema';
import type { AuditEventRow, AuditVia, GuildSettingsRow, GuildSettingsTable } from './guilds.tables';

type Db = Kysely<DB> | Transaction<DB>;

export function findSettings(db: Db, guildId: string): Promise<GuildSettingsRow | undefined> {
  return db.selectFrom('guild_settings').selectAll().where('guild_id', '=', guildId).executeTakeFirst();
}

/** The row under a lock (created empty when missing), so concurrent edits of one guild serialise. */
export async function lockSettings(db: Transaction<DB>, guildId: string): Promise<GuildSettingsRow> {
  await db.insertInto('guild_settings').values({ guild_id: guildId }).onConflict((oc) => oc.column('guild_id').doNothing()).execute();
  return db.selectFrom('guild_settings').selectAll().where('guild_id', '=', guildId).forUpdate().executeTakeFirstOrThrow();
}

export type SettingsPatch = Omit<Insertable<GuildSettingsTable>, 'guild_id' | 'created_at' | 'updated_at'>;

export function updateSettings(db: Db, guildId: string, patch: SettingsPatch): Promise<GuildSettingsRow> {
  return db.updateTable('guild_settings').set(patch).where('guild_id', '=', guildId).returningAll().executeTakeFirstOrThrow();
}

/** Who did a privileged action: a Discord user, or the admin API / configuration (no Discord id). */
export interface AuditActor {
  discordId: string | null;
  via: AuditVia;
}

export interface AuditEventInput {
  actor: AuditActor;
  guildId: string | null;
  /** Dotted, e.g. `ledger.admin_credit`, `withdrawal.approve`, `guild.settings`, `ticket.claim`. */
  action: string;
  /** What was acted on, e.g. `user:123…`, `withdrawal:42`, `ticket:7`, `guild:456…`. */
  target: string;
  before?: unknown;
  after?: unknown;
  reason?: string | null;
}

const json = (v: unknown): string | null =>
  v === undefined || v === null ? null : JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));

/**
 * The one audit writer. Pass the transaction of the privileged action itself, so the row exists iff the action
 * committed.
 */
export async function writeAudit(db: Transaction<DB>, e: AuditEventInput): Promise<bigint> {
  const row = await db
    .insertInto('audit_events')
    .values({
      actor_discord_id: e.actor.discordId,
      via: e.actor.via,
      guild_id: e.guildId,
      action: e.action,
      target: e.target.slice(0, 200),
      before: json(e.before),
      after: json(e.after),
      reason: e.reason?.trim() ? e.reason.trim().slice(0, 500) : null,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export interface AuditFilter {
  /** Only this guild's events (guild staff); undefined = every guild and bot-wide events (operators). */
  guildId?: string | undefined;
  actorDiscordId?: string | undefined;
  /** Events about this Discord user (`user:<id>` targets) or by them. */
  userDiscordId?: string | undefined;
  action?: string | undefined;
  beforeId?: bigint | undefined;
  limit: number;
}

/** Newest first; one extra row tells the caller whether there is a next page. */
export function listAudit(db: Db, f: AuditFilter): Promise<AuditEventRow[]> {
  let q = db.selectFrom('audit_events').selectAll();
  if (f.guildId !== undefined) q = q.where('guild_id', '=', f.guildId);
  if (f.actorDiscordId !== undefined) q = q.where('actor_discord_id', '=', f.actorDiscordId);
  if (f.userDiscordId !== undefined) {
    const id = f.userDiscordId;
    q = q.where((eb) => eb.or([eb('actor_discord_id', '=', id), eb('target', '=', `user:${id}`)]));
  }
  if (f.action !== undefined) q = q.where('action', '=', f.action);
  if (f.beforeId !== undefined) q = q.where('id', '<', f.beforeId);
  return q.orderBy('id', 'desc').limit(f.limit + 1).execute();
}
