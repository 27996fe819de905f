import type { Kysely } from 'kysely';
import type { Config } from '../../config';
import type { DB } from '../../db/schema';
import { UserError } from '../../errors';
import { keysetArgs, keysetPage, type KeysetPage } from '../../keyset-page';
import type { TicketPolicy } from '../tickets/tickets.service';
import * as repo from './guilds.repository';
import type { AuditActor, AuditEventInput } from './guilds.repository';
import type { AuditEventRow, GuildSettingsRow } from './guilds.tables';

export type { AuditActor, AuditEventInput };
export type AuditEvent = AuditEventRow;

/** A guild's effective settings: its overrides, else the bot's configured defaults (TICKETS_* keys). */
export interface GuildSettings {
  guildId: string;
  supportChannelId: string | null;
  staffRoleId: string | null;
  logChannelId: string | null;
  badgeRoleId: string | null;
  membershipDefaults: unknown;
  tickets: TicketPolicy;
  /** Which fields this guild set itself (the rest follow the defaults). */
  overridden: string[];
}

/** Nullable fields: null resets to the default. */
export interface GuildSettingsPatch {
  supportChannelId?: string | null;
  staffRoleId?: string | null;
  logChannelId?: string | null;
  badgeRoleId?: string | null;
  ticketCategories?: string[] | null;
  maxOpenTickets?: number | null;
  openCooldownSeconds?: number | null;
  autoCloseHours?: number | null;
  autoCloseWarningHours?: number | null;
  membershipDefaults?: Record<string, unknown> | null;
}

/** What the bot can see of a guild (from discord.js's cache or a fetch); undefined = the bot is not in it. */
export interface GuildDirectory {
  lookup(guildId: string): Promise<{ textChannelIds: ReadonlySet<string>; channelIds: ReadonlySet<string>; roleIds: ReadonlySet<string> } | undefined>;
}

export type AuditPage = KeysetPage<AuditEvent>;

const SNOWFLAKE = /^\d{15,22}$/;
const CATEGORY = /^[a-z0-9_-]{1,32}$/;

const FIELD_COLUMNS = {
  supportChannelId: 'support_channel_id',
  staffRoleId: 'staff_role_id',
  logChannelId: 'log_channel_id',
  badgeRoleId: 'badge_role_id',
  ticketCategories: 'ticket_categories',
  maxOpenTickets: 'max_open_tickets',
  openCooldownSeconds: 'open_cooldown_seconds',
  autoCloseHours: 'auto_close_hours',
  autoCloseWarningHours: 'auto_close_warning_hours',
  membershipDefaults: 'membership_defaults',
} as const satisfies Record<keyof GuildSettingsPatch, keyof GuildSettingsRow>;

function intIn(v: number | null | undefined, field: string, min: number, max: number): void {
  if (v === undefined || v === null) return;
  if (!Number.isInteger(v) || v < min || v > max) throw new UserError('GUILD_BAD_SETTING', `${field} must be a whole number from ${min} to ${max}.`);
}

function hoursIn(v: number | null | undefined, field: string): void {
  if (v === undefined || v === null) return;
  if (!Number.isFinite(v) || v <= 0 || v > 8760) throw new UserError('GUILD_BAD_SETTING', `${field} must be more than 0 and at most 8760 hours.`);
}

/** "general, Billing ,bug" → ['general', 'billing', 'bug'], with the same rules as TICKETS_CATEGORIES. */
export function parseCategories(value: string): string[] {
  const list = value.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  if (list.length === 0 || list.length > 25) throw new UserError('GUILD_BAD_SETTING', 'List 1 to 25 ticket categories, comma-separated.');
  for (const name of list) {
    if (!CATEGORY.test(name)) throw new UserError('GUILD_BAD_SETTING', `Category "${name.slice(0, 40)}" must be 1-32 of a-z 0-9 _ -.`);
  }
  if (new Set(list).size !== list.length) throw new UserError('GUILD_BAD_SETTING', 'A category is listed twice.');
  return list;
}

/**
 * Per-guild settings (defaults from config, overrides in guild_settings) and the audit log. Settings are read from
 * the database at the moment of use, so a change applies to the next ticket without a restart.
 */
export class GuildsService {
  constructor(
    private readonly db: Kysely<DB>,
    private readonly config: Config,
    /** What the bot sees of a guild (the Discord port); settings changes validate channel and role ids through it. */
    private readonly directory?: GuildDirectory,
  ) {}

  /** Effective settings; a DM (no guild) gets the defaults. */
  async settings(guildId: string | null): Promise<GuildSettings> {
    const row = guildId ? await repo.findSettings(this.db, guildId) : undefined;
    return this.merge(guildId ?? '', row);
  }

  private merge(guildId: string, row: GuildSettingsRow | undefined): GuildSettings {
    const c = this.config;
    const overridden = row ? Object.entries(FIELD_COLUMNS).filter(([, col]) => row[col] !== null).map(([field]) => field) : [];
    return {
      guildId,
      supportChannelId: row?.support_channel_id ?? c.TICKETS_SUPPORT_CHANNEL_ID ?? null,
      staffRoleId: row?.staff_role_id ?? c.TICKETS_STAFF_ROLE_ID ?? null,
      logChannelId: row?.log_channel_id ?? null,
      badgeRoleId: row?.badge_role_id ?? null,
      membershipDefaults: row?.membership_defaults ?? null,
      tickets: {
        categories: row?.ticket_categories ?? c.TICKETS_CATEGORIES,
        maxOpenPerUser: row?.max_open_tickets ?? c.TICKETS_MAX_OPEN_PER_USER,
        openCooldownSeconds: row?.open_cooldown_seconds ?? c.TICKETS_OPEN_COOLDOWN_SECONDS,
        autoCloseHours: row?.auto_close_hours ?? c.TICKETS_AUTO_CLOSE_HOURS,
        warningHours: row?.auto_close_warning_hours ?? c.TICKETS_AUTO_CLOSE_WARNING_HOURS,
      },
      overridden,
    };
  }

  /**
   * Validates every field (ranges; the bot must be in the guild and channel and role ids must exist in it, seen
   * through `directory`), then
   * applies the patch and writes one audit row in the same transaction. Any bad field: nothing is saved.
   */
  async update(guildId: string, patch: GuildSettingsPatch, actor: AuditActor, directory: GuildDirectory | undefined = this.directory): Promise<GuildSettings> {
    if (!SNOWFLAKE.test(guildId)) throw new UserError('GUILD_BAD_ID', 'A guild id is a Discord snowflake (15-22 digits).');
    const fields = Object.keys(patch).filter((k) => patch[k as keyof GuildSettingsPatch] !== undefined) as (keyof GuildSettingsPatch)[];
    if (fields.length === 0) throw new UserError('GUILD_NOTHING_TO_CHANGE', 'Nothing to change: give at least one setting.');
    intIn(patch.maxOpenTickets, 'max-open', 1, 50);
    intIn(patch.openCooldownSeconds, 'cooldown', 0, 86_400);
    hoursIn(patch.autoCloseHours, 'auto-close hours');
    hoursIn(patch.autoCloseWarningHours, 'warning hours');
    const categories = patch.ticketCategories ? parseCategories(patch.ticketCategories.join(',')) : patch.ticketCategories;
    await this.checkIds(guildId, patch, directory);

    const values: repo.SettingsPatch = {};
    for (const f of fields) {
      const v = f === 'ticketCategories' ? categories : f === 'membershipDefaults' ? (patch.membershipDefaults ? JSON.stringify(patch.membershipDefaults) : null) : patch[f];
      (values as Record<string, unknown>)[FIELD_COLUMNS[f]] = v;
    }
    const row = await this.db.transaction().execute(async (tx) => {
      const before = await repo.lockSettings(tx, guildId);
      const after = await repo.updateSettings(tx, guildId, values);
      const pick = (r: GuildSettingsRow) => Object.fromEntries(fields.map((f) => [f, r[FIELD_COLUMNS[f]]]));
      await repo.writeAudit(tx, { actor, guildId, action: 'guild.settings', target: `guild:${guildId}`, before: pick(before), after: pick(after) });
      return after;
    });
    return this.merge(guildId, row);
  }

  private async checkIds(guildId: string, patch: GuildSettingsPatch, directory: GuildDirectory | undefined): Promise<void> {
    const channels = (['supportChannelId', 'logChannelId'] as const).filter((f) => typeof patch[f] === 'string');
    const roles = (['staffRoleId', 'badgeRoleId'] as const).filter((f) => typeof patch[f] === 'string');
    for (const f of [...channels, ...roles]) {
      if (!SNOWFLAKE.test(patch[f]!)) throw new UserError('GUILD_BAD_SETTING', `${f} must be a Discord id (15-22 digits).`);
    }
    // Even without ids to check: settings for a guild the bot is not in would be a row nobody can use.
    if (!directory) throw new UserError('GUILD_UNVERIFIABLE', 'The guild and its channel and role ids cannot be checked right now (not connected to Discord); nothing was saved.');
    const seen = await directory.lookup(guildId);
    if (!seen) throw new UserError('GUILD_UNKNOWN', `The bot is not in guild ${guildId}; nothing was saved.`);
    for (const f of channels) {
      const id = patch[f]!;
      if (!seen.channelIds.has(id)) throw new UserError('GUILD_BAD_CHANNEL', `Channel ${id} does not exist in this server; nothing was saved.`);
      if (!seen.textChannelIds.has(id)) throw new UserError('GUILD_BAD_CHANNEL', `Channel ${id} is not a text channel; nothing was saved.`);
    }
    for (const f of roles) {
      const id = patch[f]!;
      if (!seen.roleIds.has(id) || id === guildId) throw new UserError('GUILD_BAD_ROLE', `Role ${id} does not exist in this server; nothing was saved.`);
    }
  }

  // ------------------------------------------------------------------ audit log

  /** Newest first. `guildId` set = only that guild's events (guild staff); undefined = everything (operators). */
  async audit(filter: Omit<repo.AuditFilter, 'beforeId' | 'limit'> & { cursor?: string | undefined; limit?: number | undefined }): Promise<AuditPage> {
    const { limit, beforeId } = keysetArgs(filter, 'AUDIT');
    if (filter.action !== undefined && !/^[a-z][a-z0-9_.-]{1,63}$/.test(filter.action)) {
      throw new UserError('AUDIT_BAD_ACTION', 'action looks like `ledger.admin_credit` (lower case, dots).');
    }
    return keysetPage(await repo.listAudit(this.db, { ...filter, beforeId, limit }), limit);
  }
}
