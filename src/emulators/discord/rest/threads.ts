import { GatewayDispatchEvents, GatewayIntentBits } from 'discord-api-types/v10';
import { toApiChannel, type EmuChannel } from '../discord-state';
import type { DiscordWorld } from '../discord-world';
import type { DiscordGateway } from '../gateway';
import { DiscordApiError } from './router';

// Discord's archived-thread rules, in one place for the routes and the driver: a message posted in an archived thread
// unarchives it unless it is locked; everything else that changes an archived thread (edits, new members, channel
// edits that do not unarchive it) is refused with 50083; and idle threads archive themselves.

const MINUTE_MS = 60_000;

export function threadIsArchived(): DiscordApiError {
  return new DiscordApiError(400, 50083, 'Thread is archived');
}

/** Before a message is posted: an archived thread reopens (THREAD_UPDATE), unless it is locked. */
export function reopenForMessage(world: DiscordWorld, gateway: DiscordGateway, channel: EmuChannel): void {
  if (!channel.archived) return;
  if (channel.locked) throw threadIsArchived();
  channel.archived = false;
  gateway.dispatch(GatewayDispatchEvents.ThreadUpdate, toApiChannel(channel, world.users));
}

/** Edits to a message and member adds need the thread open. */
export function mustBeOpen(channel: EmuChannel | undefined): void {
  if (channel?.archived) throw threadIsArchived();
}

/**
 * Adds a thread member and sends THREAD_MEMBERS_UPDATE: sessions with Guilds hear about the bot itself, and about
 * anyone else only with GuildMembers too (Discord's intents table).
 */
export function addThreadMember(world: DiscordWorld, gateway: DiscordGateway, thread: EmuChannel, userId: string): void {
  if (!thread.threadMemberIds) throw new DiscordApiError(400, 50024, 'Cannot execute action on this channel type');
  const isNew = !thread.threadMemberIds.has(userId);
  thread.threadMemberIds.add(userId);
  world.threadMembers.push({ threadId: thread.id, userId });
  if (!isNew) return;
  const payload = {
    id: thread.id,
    guild_id: thread.guildId,
    member_count: Math.min(thread.threadMemberIds.size, 50),
    added_members: [{ id: thread.id, user_id: userId, join_timestamp: new Date(world.now()).toISOString(), flags: 0 }],
  };
  gateway.dispatch(GatewayDispatchEvents.ThreadMembersUpdate, payload, userId === world.bot.id ? 0 : GatewayIntentBits.GuildMembers);
}

/**
 * Archives every open thread idle for its auto-archive duration at `now` (THREAD_UPDATE each), as Discord does in the
 * background; returns the threads archived.
 */
export function archiveIdleThreads(world: DiscordWorld, gateway: DiscordGateway, now: number): EmuChannel[] {
  const archived: EmuChannel[] = [];
  for (const channel of world.channels.values()) {
    if (!channel.threadMemberIds || channel.archived) continue;
    const idleSince = channel.lastActivityAt ?? now;
    if (now - idleSince < (channel.autoArchiveDuration ?? 1440) * MINUTE_MS) continue;
    channel.archived = true;
    archived.push(channel);
    gateway.dispatch(GatewayDispatchEvents.ThreadUpdate, toApiChannel(channel, world.users));
  }
  return archived;
}
