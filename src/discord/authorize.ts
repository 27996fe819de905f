import type { PermissionsBitField } from 'discord.js';
import type { AppContext } from '../app-context';
import type { RequiredRole } from './command';
import { permissionsGrant, type AuthorizeFn } from './interaction-router';

/**
 * Staff checks: the user's role in our database (granted by admins) or, failing that, Discord permissions
 * (Manage Server = admin, Manage Messages = support), so a fresh server works before anyone is promoted.
 * Takes the identity pieces rather than an interaction so messages (thread posts) use the same rule.
 */
export async function holdsStaffRole(
  who: { userId: string; permissions: Readonly<PermissionsBitField> | null | undefined },
  role: RequiredRole,
  ctx: AppContext,
): Promise<boolean> {
  const dbRole = await ctx.services.users.roleOf(who.userId);
  if (dbRole === 'ADMIN' || (role === 'SUPPORT' && dbRole === 'SUPPORT')) return true;
  return permissionsGrant(who.permissions, role);
}

export const authorizeByRole: AuthorizeFn = (interaction, role, ctx) =>
  holdsStaffRole({ userId: interaction.user.id, permissions: interaction.memberPermissions }, role, ctx);
