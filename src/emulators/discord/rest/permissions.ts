import { ChannelType, PermissionFlagsBits } from 'discord-api-types/v10';
import { channelPermissions, memberPermissions, type EmuChannel } from '../discord-state';
import type { DiscordWorld } from '../discord-world';
import { DiscordApiError, type RouteContext, type RouteDef } from './router';

/** What a route needs from the bot: fixed bits, or bits that depend on the request (thread type, attachments…). */
export type RoutePermissions = bigint | ((ctx: RouteContext, channel: EmuChannel | undefined) => bigint);

export const isThread = (channel: EmuChannel): boolean => channel.type === ChannelType.PublicThread || channel.type === ChannelType.PrivateThread;

/** Send Messages in a channel, Send Messages in Threads in a thread (Discord keeps them apart). */
export function sendIn(channel: EmuChannel | undefined): bigint {
  return channel && isThread(channel) ? PermissionFlagsBits.SendMessagesInThreads : PermissionFlagsBits.SendMessages;
}

export function missingPermissions(): DiscordApiError {
  return new DiscordApiError(403, 50013, 'Missing Permissions');
}

function missingAccess(): DiscordApiError {
  return new DiscordApiError(403, 50001, 'Missing Access');
}

/**
 * The permission guard: the bot's permissions in the route's channel (`:channelId`) or guild (`:guildId`), computed
 * from its roles and the channel's overwrites as Discord does. A guild channel the bot cannot view answers 50001
 * Missing Access (so does a private thread it is not in without Manage Threads); a missing route permission answers
 * 50013 Missing Permissions. Unknown channels and guilds pass through so the handler answers them with their own code.
 */
export function checkBotPermissions(world: DiscordWorld, route: RouteDef, ctx: RouteContext): void {
  const channel = ctx.params.channelId !== undefined ? world.channels.get(ctx.params.channelId) : undefined;
  if (channel?.guildId === null) return;
  const guild = world.guilds.get(channel?.guildId ?? ctx.params.guildId ?? '');
  const me = guild?.members.get(world.bot.id);
  if (!guild || !me) return;
  const perms = channel ? channelPermissions(guild, me, channel, world.channels) : memberPermissions(guild, me);
  if (channel) {
    if (!(perms & PermissionFlagsBits.ViewChannel)) throw missingAccess();
    const inPrivateThread = channel.type !== ChannelType.PrivateThread || channel.threadMemberIds?.has(world.bot.id) === true;
    if (!inPrivateThread && !(perms & PermissionFlagsBits.ManageThreads)) throw missingAccess();
  }
  const need = typeof route.permissions === 'function' ? route.permissions(ctx, channel) : (route.permissions ?? 0n);
  if ((perms & need) !== need) throw missingPermissions();
}
