import { DiscordAPIError, PermissionFlagsBits, PermissionsBitField, RESTJSONErrorCodes, type Guild } from 'discord.js';

/** A permission the bot asks for when invited, and the feature that needs it (listed in the README). */
export interface BotPermission {
  flag: bigint;
  why: string;
}

/**
 * Everything the bot's features need in a server, and nothing more: the invite URL and the README are derived from
 * this list, and the permissions e2e test runs the features with exactly these bits instead of Administrator.
 */
export const BOT_PERMISSIONS: readonly BotPermission[] = [
  { flag: PermissionFlagsBits.ViewChannel, why: 'see the support channel and the log channel' },
  { flag: PermissionFlagsBits.SendMessages, why: 'post in the log channel; open ticket threads' },
  { flag: PermissionFlagsBits.CreatePrivateThreads, why: 'open each ticket as a private thread' },
  { flag: PermissionFlagsBits.SendMessagesInThreads, why: 'post the ticket card and updates, add the member to the thread' },
  { flag: PermissionFlagsBits.ManageThreads, why: 'lock and archive closed tickets' },
  { flag: PermissionFlagsBits.EmbedLinks, why: 'show ticket cards as embeds' },
];

export const BOT_PERMISSIONS_INTEGER: bigint = BOT_PERMISSIONS.reduce((acc, p) => acc | p.flag, 0n);

/** The OAuth2 URL that adds the bot to a server with its slash commands and exactly {@link BOT_PERMISSIONS}. */
export function inviteUrl(appId: string): string {
  return `https://discord.com/oauth2/authorize?client_id=${appId}&scope=bot+applications.commands&permissions=${BOT_PERMISSIONS_INTEGER}`;
}

/** "CreatePrivateThreads" → "Create Private Threads", as Discord's settings name it. */
export function permissionNames(bits: bigint): string[] {
  return new PermissionsBitField(bits).toArray().map((name) => name.replace(/([a-z])([A-Z])/g, '$1 $2'));
}

/**
 * What to tell the member (and staff) when Discord refused the bot: Missing Permissions (50013), Missing Access
 * (50001) or a closed DM (50007). Names the permissions the bot lacks in the channel the request was for, from
 * the bot's cached roles and overwrites; undefined for any other error.
 */
export function explainRefusal(err: unknown, guild: Guild | null): string | undefined {
  if (!(err instanceof DiscordAPIError)) return undefined;
  if (err.code === RESTJSONErrorCodes.CannotSendMessagesToThisUser) {
    return 'I cannot send that person a direct message: they have DMs from this server closed.';
  }
  if (err.code !== RESTJSONErrorCodes.MissingPermissions && err.code !== RESTJSONErrorCodes.MissingAccess) return undefined;
  const channelId = /\/channels\/(\d+)/.exec(err.url)?.[1];
  const channel = channelId ? guild?.channels.cache.get(channelId) : undefined;
  // Overwrites live on the parent of a thread: that is where staff fix them.
  const where = channel?.isThread() && channel.parentId ? channel.parentId : channelId;
  const me = guild?.members.me;
  const names = channel && me ? permissionNames(BOT_PERMISSIONS_INTEGER & ~me.permissionsIn(channel).bitfield) : [];
  const place = where ? ` in <#${where}>` : ' in this server';
  if (names.length > 0) return `I need ${joinNames(names)}${place}. Ask the server staff to grant it to my role (or in that channel's permissions).`;
  if (err.code === RESTJSONErrorCodes.MissingAccess) return `I cannot see the channel I need${place}: I need View Channel there.`;
  return `Discord refused me a permission${place} (Missing Permissions). I need ${joinNames(permissionNames(BOT_PERMISSIONS_INTEGER))}, and my role must be above any role I manage.`;
}

function joinNames(names: string[]): string {
  return names.length <= 1 ? (names[0] ?? '') : `${names.slice(0, -1).join(', ')} and ${names.at(-1) ?? ''}`;
}
