import { PermissionFlagsBits, type Interaction, type PermissionsBitField } from 'discord.js';
import type { AppContext } from '../app-context';
import type { Authority } from './command';
import type { AuthorizeFn } from './interaction-router';

/**
 * Operators: bot-wide authority (money creation, payout review, currency pause/limits, blocking). Only the
 * database role counts — a Discord permission holds inside one guild and must never open the shared treasury.
 */
export function isOperator(userId: string, ctx: AppContext): Promise<boolean> {
  return ctx.services.users.isOperator(userId);
}

/** Who is asking, in which guild, with the permissions and roles Discord computed for that guild. */
export interface GuildMemberIdentity {
  userId: string;
  guildId: string | null;
  permissions: Readonly<PermissionsBitField> | null | undefined;
  hasRole(roleId: string): boolean;
}

/**
 * Guild staff: Manage Server (Administrator implies it) or the guild's configured staff role, in that guild only.
 * Outside a guild (DMs) nobody is guild staff.
 */
export async function isGuildStaff(who: GuildMemberIdentity, ctx: AppContext): Promise<boolean> {
  if (!who.guildId) return false;
  if (who.permissions?.has(PermissionFlagsBits.ManageGuild)) return true;
  const { staffRoleId } = await ctx.services.guilds.settings(who.guildId);
  return staffRoleId !== null && who.hasRole(staffRoleId);
}

export function interactionIdentity(interaction: Interaction): GuildMemberIdentity {
  const roles = interaction.member?.roles;
  return {
    userId: interaction.user.id,
    guildId: interaction.guildId,
    permissions: interaction.memberPermissions,
    hasRole: (id) => (roles ? (Array.isArray(roles) ? roles.includes(id) : roles.cache.has(id)) : false),
  };
}

export const authorizeByAuthority: AuthorizeFn = (interaction, authority: Authority, ctx) =>
  authority === 'operator' ? isOperator(interaction.user.id, ctx) : isGuildStaff(interactionIdentity(interaction), ctx);

