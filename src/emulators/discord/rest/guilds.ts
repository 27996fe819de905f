import { ChannelType, GatewayDispatchEvents, PermissionFlagsBits } from 'discord-api-types/v10';
import { highestRolePosition, toApiChannel, toApiMember, toApiRole, type EmuChannel } from '../discord-state';
import { mustGuild, mustMember, type RestDeps } from './lookups';
import { missingPermissions } from './permissions';
import { DiscordApiError, noContent, sendJson, type RouteDef, type RouteHandler } from './router';

/** Guilds, their roles, channels and members, and member role changes. */
export function guildRoutes({ world, gateway }: RestDeps): RouteDef[] {
  const roleChange = (action: 'add' | 'remove'): RouteHandler => ({ res, params }) => {
    const guild = mustGuild(world, params.guildId);
    const member = mustMember(world, params.guildId, params.userId);
    const role = guild.roles.get(params.roleId ?? '');
    if (!role) throw new DiscordApiError(404, 10011, 'Unknown Role');
    // Role hierarchy: Manage Roles (checked by the guard) only reaches roles below the bot's highest role.
    const me = guild.members.get(world.bot.id);
    if (guild.ownerId !== world.bot.id && (!me || role.position >= highestRolePosition(guild, me))) throw missingPermissions();
    if (action === 'add') member.roleIds.add(role.id);
    else member.roleIds.delete(role.id);
    world.roleChanges.push({ guildId: guild.id, userId: member.userId, roleId: role.id, action });
    gateway.dispatch(GatewayDispatchEvents.GuildMemberUpdate, { guild_id: guild.id, ...toApiMember(member, world.users) });
    noContent(res);
  };

  return [
    { method: 'GET', path: 'guilds/:guildId', handler: ({ res, params }) => sendJson(res, 200, world.guildPayload(mustGuild(world, params.guildId))) },
    {
      method: 'GET',
      path: 'guilds/:guildId/roles',
      handler: ({ res, params }) => sendJson(res, 200, [...mustGuild(world, params.guildId).roles.values()].map(toApiRole)),
    },
    {
      method: 'GET',
      path: 'guilds/:guildId/channels',
      handler: ({ res, params }) => {
        const guild = mustGuild(world, params.guildId);
        const list = guild.channelIds.map((id) => world.channels.get(id)).filter((c): c is EmuChannel => c?.type === ChannelType.GuildText);
        sendJson(res, 200, list.map((c) => toApiChannel(c, world.users)));
      },
    },
    {
      method: 'GET',
      path: 'guilds/:guildId/members',
      handler: ({ res, params, query }) => {
        const guild = mustGuild(world, params.guildId);
        const after = query.get('after') ?? '0';
        const limit = Math.min(Number(query.get('limit') ?? 1), 1000);
        const list = [...guild.members.values()].filter((m) => BigInt(m.userId) > BigInt(after)).sort((a, b) => (BigInt(a.userId) < BigInt(b.userId) ? -1 : 1)).slice(0, limit);
        sendJson(res, 200, list.map((m) => toApiMember(m, world.users)));
      },
    },
    {
      method: 'GET',
      path: 'guilds/:guildId/members/:userId',
      handler: ({ res, params }) => sendJson(res, 200, toApiMember(mustMember(world, params.guildId, params.userId), world.users)),
    },
    { method: 'PUT', path: 'guilds/:guildId/members/:userId/roles/:roleId', permissions: PermissionFlagsBits.ManageRoles, handler: roleChange('add') },
    { method: 'DELETE', path: 'guilds/:guildId/members/:userId/roles/:roleId', permissions: PermissionFlagsBits.ManageRoles, handler: roleChange('remove') },
  ];
}
