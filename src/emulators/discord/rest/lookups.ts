import type { EmuChannel, EmuGuild, EmuMember, EmuMessage } from '../discord-state';
import { INTERACTION_DEADLINES, type DiscordWorld } from '../discord-world';
import type { DiscordGateway } from '../gateway';
import type { InteractionRecord } from '../interaction-result';
import { DiscordApiError } from './router';

/** What every resource-group file's handlers work with. */
export interface RestDeps {
  world: DiscordWorld;
  gateway: DiscordGateway;
  gatewayUrl: () => string;
}

// Lookups answer a missing resource with Discord's own status and error code. The ones flagged as failures are
// ids the bot can only have gotten wrong (its own application, a guild it is in, an interaction it was sent).

export function checkApp(world: DiscordWorld, appId: string | undefined): void {
  if (appId !== world.appId) throw new DiscordApiError(404, 10002, 'Unknown Application', true);
}

export function mustGuild(world: DiscordWorld, id: string | undefined): EmuGuild {
  const guild = world.guilds.get(id ?? '');
  if (!guild) throw new DiscordApiError(404, 10004, 'Unknown Guild', true);
  return guild;
}

export function mustMember(world: DiscordWorld, guildId: string | undefined, userId: string | undefined): EmuMember {
  const member = mustGuild(world, guildId).members.get(userId ?? '');
  if (!member) throw new DiscordApiError(404, 10007, 'Unknown Member');
  return member;
}

export function mustChannel(world: DiscordWorld, id: string | undefined): EmuChannel {
  const channel = world.channels.get(id ?? '');
  if (!channel) throw new DiscordApiError(404, 10003, 'Unknown Channel');
  return channel;
}

export function mustMessage(world: DiscordWorld, channelId: string | undefined, messageId: string | undefined): EmuMessage {
  const message = world.messageById(messageId ?? '');
  if (!message || message.channel_id !== channelId || message.deleted) throw new DiscordApiError(404, 10008, 'Unknown Message');
  return message;
}

export function mustInteraction(world: DiscordWorld, token: string | undefined, appId: string | undefined): InteractionRecord {
  checkApp(world, appId);
  const record = world.interactions.get(token ?? '');
  if (!record) throw new DiscordApiError(404, 10015, 'Unknown Webhook', true);
  // Work that outlives the token is a production reality (long jobs), not emulator misuse: an ordinary answer.
  if (world.now() - record.createdAt > INTERACTION_DEADLINES.tokenLifetimeMs) throw new DiscordApiError(401, 50027, 'Invalid Webhook Token');
  return record;
}
