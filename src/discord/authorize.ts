import type { AuthorizeFn } from './interaction-router';
import { authorizeByDiscordPermissions } from './interaction-router';

/**
 * Staff checks: the user's role in our database (granted by admins) or, failing that, Discord permissions
 * (Manage Server = admin, Manage Messages = support), so a fresh server works before anyone is promoted.
 */
export const authorizeByRole: AuthorizeFn = async (interaction, role, ctx) => {
  const dbRole = await ctx.services.users.roleOf(interaction.user.id);
  if (dbRole === 'ADMIN' || (role === 'SUPPORT' && dbRole === 'SUPPORT')) return true;
  return authorizeByDiscordPermissions(interaction, role, ctx);
};
