import type { ColumnType, Selectable } from 'kysely';
import type { CreatedAt, Id, Timestamp } from '../../db/schema';

/** Per-guild overrides; NULL = the bot's configured default (see GuildsService.settings). */
export interface GuildSettingsTable {
  guild_id: string;
  support_channel_id: string | null;
  staff_role_id: string | null;
  log_channel_id: string | null;
  ticket_categories: string[] | null;
  max_open_tickets: number | null;
  open_cooldown_seconds: number | null;
  auto_close_hours: number | null;
  auto_close_warning_hours: number | null;
  badge_role_id: string | null;
  membership_defaults: ColumnType<unknown, string | null | undefined, string | null>;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export const AUDIT_VIA = ['discord', 'admin-api', 'config', 'system'] as const;
export type AuditVia = (typeof AUDIT_VIA)[number];

/** Append-only (a trigger refuses UPDATE/DELETE/TRUNCATE). */
export interface AuditEventsTable {
  id: Id;
  actor_discord_id: string | null;
  via: AuditVia;
  guild_id: string | null;
  action: string;
  target: string;
  before: ColumnType<unknown, string | null | undefined, never>;
  after: ColumnType<unknown, string | null | undefined, never>;
  reason: string | null;
  at: CreatedAt;
}

export interface GuildTables {
  guild_settings: GuildSettingsTable;
  audit_events: AuditEventsTable;
}

export type GuildSettingsRow = Selectable<GuildSettingsTable>;
export type AuditEventRow = Selectable<AuditEventsTable>;
