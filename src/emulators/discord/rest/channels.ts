import { ChannelType, GatewayDispatchEvents, PermissionFlagsBits } from 'discord-api-types/v10';
import { editMessage, snowflake, toApiChannel, toApiMessage, type EmuChannel, type MessageInput } from '../discord-state';
import { mustChannel, mustMessage, type RestDeps } from './lookups';
import { isThread, sendIn } from './permissions';
import { DiscordApiError, noContent, sendJson, type RouteDef } from './router';
import { addThreadMember, mustBeOpen, reopenForMessage, threadIsArchived } from './threads';

/** `guild_id` for message events in a guild channel (absent in DMs, as on Discord). */
export function guildIdOf(world: RestDeps['world'], channelId: string): { guild_id?: string } {
  const guildId = world.channels.get(channelId)?.guildId;
  return guildId ? { guild_id: guildId } : {};
}

/** Channels, the bot's channel messages, threads and thread members. */
export function channelRoutes({ world, gateway }: RestDeps): RouteDef[] {
  return [
    { method: 'GET', path: 'channels/:channelId', handler: ({ res, params }) => sendJson(res, 200, toApiChannel(mustChannel(world, params.channelId), world.users)) },
    {
      method: 'PATCH',
      path: 'channels/:channelId',
      // A thread's owner may rename and archive it; locking, reopening a locked one, and editing anyone else's, need
      // Manage Threads.
      permissions: ({ body }, channel) => {
        if (!channel || !isThread(channel)) return PermissionFlagsBits.ManageChannels;
        const locks = (body.json as { locked?: unknown } | undefined)?.locked !== undefined;
        return locks || channel.locked || channel.ownerId !== world.bot.id ? PermissionFlagsBits.ManageThreads : 0n;
      },
      handler: ({ res, params, body }) => {
        const channel = mustChannel(world, params.channelId);
        const patch = (body.json ?? {}) as { name?: string; archived?: boolean; locked?: boolean; auto_archive_duration?: number };
        // An archived thread takes only the edit that reopens it.
        if (channel.archived && patch.archived !== false) throw threadIsArchived();
        if (patch.name !== undefined) channel.name = patch.name;
        if (patch.archived !== undefined) channel.archived = patch.archived;
        if (patch.locked !== undefined) channel.locked = patch.locked;
        if (patch.auto_archive_duration !== undefined) channel.autoArchiveDuration = patch.auto_archive_duration;
        const api = toApiChannel(channel, world.users);
        const isThread = channel.type === ChannelType.PublicThread || channel.type === ChannelType.PrivateThread;
        gateway.dispatch(isThread ? GatewayDispatchEvents.ThreadUpdate : GatewayDispatchEvents.ChannelUpdate, api);
        sendJson(res, 200, api);
      },
    },
    {
      method: 'POST',
      path: 'channels/:channelId/messages',
      payload: 'message',
      permissions: ({ body }, channel) => sendIn(channel) | (body.files.length > 0 ? PermissionFlagsBits.AttachFiles : 0n),
      handler: ({ res, params, body }) => {
        const channel = mustChannel(world, params.channelId);
        const recipient = channel.type === ChannelType.DM ? channel.recipientId : undefined;
        if (recipient !== undefined && world.dmsClosed.has(recipient)) throw new DiscordApiError(403, 50007, 'Cannot send messages to this user');
        reopenForMessage(world, gateway, channel);
        const message = world.storeBotMessage(channel.id, body.json as MessageInput, body.files, {});
        sendJson(res, 200, toApiMessage(message));
        // Discord echoes a bot's own channel messages to it over the gateway too.
        gateway.dispatchMessageCreate(message);
      },
    },
    {
      method: 'GET',
      path: 'channels/:channelId/messages',
      permissions: PermissionFlagsBits.ReadMessageHistory,
      handler: ({ res, params, query }) => {
        const channel = mustChannel(world, params.channelId);
        const limit = Math.min(Number(query.get('limit') ?? 50), 100);
        const list = world.messages.filter((m) => m.channel_id === channel.id && !m.deleted && !m.ephemeral).reverse().slice(0, limit);
        sendJson(res, 200, list.map(toApiMessage));
      },
    },
    {
      method: 'GET',
      path: 'channels/:channelId/messages/:messageId',
      permissions: PermissionFlagsBits.ReadMessageHistory,
      handler: ({ res, params }) => sendJson(res, 200, toApiMessage(mustMessage(world, params.channelId, params.messageId))),
    },
    {
      method: 'PATCH',
      path: 'channels/:channelId/messages/:messageId',
      payload: 'message',
      handler: ({ res, params, body }) => {
        const message = mustMessage(world, params.channelId, params.messageId);
        if (message.author.id !== world.bot.id) throw new DiscordApiError(403, 50005, 'Cannot edit a message authored by another user', true);
        mustBeOpen(world.channels.get(message.channel_id));
        editMessage(message, body.json as MessageInput, body.files);
        const api = toApiMessage(message);
        sendJson(res, 200, api);
        gateway.dispatch(GatewayDispatchEvents.MessageUpdate, { ...api, ...guildIdOf(world, message.channel_id) });
      },
    },
    {
      method: 'DELETE',
      path: 'channels/:channelId/messages/:messageId',
      // The bot's own messages are its to delete; anyone else's need Manage Messages.
      permissions: ({ params }) => (world.messageById(params.messageId ?? '')?.author.id === world.bot.id ? 0n : PermissionFlagsBits.ManageMessages),
      handler: ({ res, params }) => {
        const message = mustMessage(world, params.channelId, params.messageId);
        message.deleted = true;
        noContent(res);
        gateway.dispatch(GatewayDispatchEvents.MessageDelete, { id: message.id, channel_id: message.channel_id, ...guildIdOf(world, message.channel_id) });
      },
    },
    {
      method: 'DELETE',
      path: 'channels/:channelId',
      permissions: (_ctx, channel) => (channel && isThread(channel) ? PermissionFlagsBits.ManageThreads : PermissionFlagsBits.ManageChannels),
      handler: ({ res, params }) => {
        const channel = mustChannel(world, params.channelId);
        if (channel.type === ChannelType.DM) throw new DiscordApiError(400, 50003, 'Cannot execute action on a DM channel', true);
        world.channels.delete(channel.id);
        const guild = world.guilds.get(channel.guildId ?? '');
        if (guild) guild.channelIds = guild.channelIds.filter((id) => id !== channel.id);
        const api = toApiChannel(channel, world.users);
        gateway.dispatch(isThread(channel) ? GatewayDispatchEvents.ThreadDelete : GatewayDispatchEvents.ChannelDelete, api);
        sendJson(res, 200, api);
      },
    },
    {
      method: 'POST',
      path: 'channels/:channelId/threads',
      permissions: ({ body }) =>
        PermissionFlagsBits.SendMessages |
        ((body.json as { type?: number } | undefined)?.type === ChannelType.PrivateThread ? PermissionFlagsBits.CreatePrivateThreads : PermissionFlagsBits.CreatePublicThreads),
      handler: ({ res, params, body }) => {
        const parent = mustChannel(world, params.channelId);
        if (parent.type !== ChannelType.GuildText) throw new DiscordApiError(400, 50024, 'Cannot execute action on this channel type');
        const input = (body.json ?? {}) as { name?: string; type?: number; auto_archive_duration?: number };
        const thread: EmuChannel = {
          id: snowflake(),
          type: input.type === ChannelType.PrivateThread ? ChannelType.PrivateThread : ChannelType.PublicThread,
          name: input.name ?? 'thread',
          guildId: parent.guildId,
          parentId: parent.id,
          ownerId: world.bot.id,
          archived: false,
          locked: false,
          autoArchiveDuration: input.auto_archive_duration ?? 1440,
          threadMemberIds: new Set([world.bot.id]),
          lastActivityAt: world.now(),
        };
        world.channels.set(thread.id, thread);
        world.guilds.get(parent.guildId ?? '')?.channelIds.push(thread.id);
        const api = toApiChannel(thread, world.users);
        gateway.dispatch(GatewayDispatchEvents.ThreadCreate, { ...api, newly_created: true });
        sendJson(res, 201, api);
      },
    },
    {
      method: 'PUT',
      path: 'channels/:channelId/thread-members/:userId',
      permissions: PermissionFlagsBits.SendMessagesInThreads,
      handler: ({ res, params }) => {
        const thread = mustChannel(world, params.channelId);
        const user = world.users.get(params.userId ?? '');
        if (!user) throw new DiscordApiError(404, 10013, 'Unknown User');
        mustBeOpen(thread);
        addThreadMember(world, gateway, thread, user.id);
        noContent(res);
      },
    },
  ];
}
