import { ChannelType, MessageFlags, PermissionFlagsBits, type APIApplicationCommand, type MessageType } from 'discord-api-types/v10';
import {
  newMessage,
  randomToken,
  snowflake,
  toApiChannel,
  toApiMember,
  toApiRole,
  type EmuChannel,
  type EmuFile,
  type EmuGuild,
  type EmuMessage,
  type EmuRole,
  type EmuUser,
  type MessageInput,
} from './discord-state';
import type { InteractionRecord } from './interaction-result';

export interface RecordedRequest {
  method: string;
  path: string;
  status: number;
  body: unknown;
  at: number;
}

export interface EmulatorFailure {
  method: string;
  path: string;
  status: number;
  reason: string;
}

export interface RoleChange {
  guildId: string;
  userId: string;
  roleId: string;
  action: 'add' | 'remove';
}

export interface ThreadMemberAdd {
  threadId: string;
  userId: string;
}

export interface WorldOptions {
  guildName?: string;
  botName?: string;
  token?: string;
  appId?: string;
  /** Wall clock for time-based rules a test cannot wait out (the 15-minute interaction token); default Date.now. */
  now?: () => number;
}

/** Discord's deadlines for answering an interaction. */
export const INTERACTION_DEADLINES = {
  /** The initial response (reply, deferral, update, modal, choices) must arrive within 3 s. */
  initialResponseMs: 3_000,
  /** The interaction token (follow-ups, edits of the original) stays valid for 15 minutes. */
  tokenLifetimeMs: 15 * 60_000,
};

/**
 * Everything the emulated Discord knows: users, the guild with its roles, members and channels, messages,
 * registered commands and pending interactions, plus what the bot did (requests, failures, role changes).
 * Plain state and lookups only: sending gateway events is the caller's job (driver, REST handlers).
 */
export class DiscordWorld {
  readonly token: string;
  readonly appId: string;
  readonly bot: EmuUser;
  /** The guild driver methods act in (switched by the emulator's `inGuild`). */
  guild: EmuGuild;

  readonly users = new Map<string, EmuUser>();
  readonly channels = new Map<string, EmuChannel>();
  readonly guilds = new Map<string, EmuGuild>();
  readonly messages: EmuMessage[] = [];
  readonly requests: RecordedRequest[] = [];
  readonly failures: EmulatorFailure[] = [];
  readonly roleChanges: RoleChange[] = [];
  readonly threadMembers: ThreadMemberAdd[] = [];
  readonly interactions = new Map<string, InteractionRecord>();
  globalCommands: APIApplicationCommand[] = [];
  readonly guildCommands = new Map<string, APIApplicationCommand[]>();
  /** Users who closed their DMs to the bot (Discord answers 50007 when it writes to them). */
  readonly dmsClosed = new Set<string>();
  /** Files users attached to commands; served at /attachments/:id/:name so the bot can download them. */
  readonly uploads = new Map<string, EmuFile>();
  private readonly messageIndex = new Map<string, EmuMessage>();
  readonly now: () => number;
  /** Initial interaction responses seen and the slowest one: how much margin the 3 s deadline leaves. */
  readonly responseLatency = { count: 0, worstMs: 0, worst: '' };

  constructor(options: WorldOptions) {
    this.now = options.now ?? Date.now;
    this.token = options.token ?? `emu.${randomToken(16)}`;
    this.appId = options.appId ?? snowflake();
    this.bot = { id: this.appId, username: options.botName ?? 'Solbound', bot: true };
    this.users.set(this.bot.id, this.bot);
    this.guild = this.createGuild(options.guildName ?? 'Solbound Test Guild', 'owner');
  }

  /** A guild with its owner and @everyone (no events sent); `id` places it on a chosen gateway shard. */
  createGuild(name: string, ownerName: string, id: string = snowflake()): EmuGuild {
    if (this.guilds.has(id)) throw new Error(`guild ${id} exists`);
    const owner: EmuUser = { id: snowflake(), username: ownerName, bot: false };
    this.users.set(owner.id, owner);
    const guild: EmuGuild = {
      id,
      name,
      ownerId: owner.id,
      roles: new Map([[id, { id, name: '@everyone', permissions: PermissionFlagsBits.ViewChannel | PermissionFlagsBits.SendMessages | PermissionFlagsBits.UseApplicationCommands, position: 0 }]]),
      members: new Map(),
      channelIds: [],
    };
    this.guilds.set(id, guild);
    guild.members.set(owner.id, { userId: owner.id, roleIds: new Set(), nick: null, joinedAt: new Date().toISOString() });
    return guild;
  }

  /** The guild a channel belongs to (a DM: the current guild, for the authorizing-owner field). */
  guildOf(channel: EmuChannel): EmuGuild {
    return (channel.guildId !== null ? this.guilds.get(channel.guildId) : undefined) ?? this.guild;
  }

  recordInitialResponse(latencyMs: number, what: string): void {
    this.responseLatency.count++;
    if (latencyMs > this.responseLatency.worstMs) Object.assign(this.responseLatency, { worstMs: latencyMs, worst: what });
  }

  findUser(ref: string): EmuUser | undefined {
    const mention = /^<@!?(\d+)>$/.exec(ref)?.[1];
    const key = mention ?? ref.replace(/^@/, '');
    return this.users.get(key) ?? [...this.users.values()].find((u) => u.username === key);
  }

  /** A guild role by `<@&id>`, id or name (with or without '@'). */
  findRole(ref: string): EmuRole | undefined {
    const key = /^<@&(\d+)>$/.exec(ref)?.[1] ?? ref.replace(/^@/, '');
    return this.guild.roles.get(key) ?? [...this.guild.roles.values()].find((r) => r.name === key);
  }

  /** A channel or thread by `<#id>`, id or name (with or without '#'). */
  findChannel(ref: string): EmuChannel | undefined {
    const key = /^<#(\d+)>$/.exec(ref)?.[1] ?? ref.replace(/^#/, '');
    return this.channels.get(key) ?? [...this.channels.values()].find((c) => c.name === key && c.guildId === this.guild.id);
  }

  /** The user's DM channel with the bot, opened on first use. */
  dmChannelFor(user: EmuUser): EmuChannel {
    let channel = [...this.channels.values()].find((c) => c.type === ChannelType.DM && c.recipientId === user.id);
    if (!channel) {
      channel = { id: snowflake(), type: ChannelType.DM, name: '', guildId: null, parentId: null, recipientId: user.id };
      this.channels.set(channel.id, channel);
    }
    return channel;
  }

  messageById(id: string): EmuMessage | undefined {
    return this.messageIndex.get(id);
  }

  addMessage(message: EmuMessage): void {
    this.messages.push(message);
    this.messageIndex.set(message.id, message);
    const channel = this.channels.get(message.channel_id);
    if (channel?.threadMemberIds) channel.lastActivityAt = this.now();
  }

  /** Stores a message the bot sent (channel post, interaction reply or follow-up). */
  storeBotMessage(
    channelId: string,
    input: MessageInput,
    files: EmuFile[],
    extra: { interactionToken?: string; visibleTo?: string; type?: MessageType },
  ): EmuMessage {
    const message = newMessage({
      channelId,
      author: this.bot,
      input: input ?? {},
      files,
      ...(extra.type !== undefined ? { type: extra.type } : {}),
      ...(extra.interactionToken ? { appId: this.appId, interactionToken: extra.interactionToken } : {}),
      ...(extra.visibleTo && ((input?.flags ?? 0) & MessageFlags.Ephemeral) ? { visibleTo: extra.visibleTo } : {}),
    });
    this.addMessage(message);
    return message;
  }

  /** The guild as GUILD_CREATE and GET /guilds/:id describe it. */
  guildPayload(guild: EmuGuild): unknown {
    return {
      id: guild.id,
      name: guild.name,
      icon: null,
      splash: null,
      discovery_splash: null,
      owner_id: guild.ownerId,
      afk_channel_id: null,
      afk_timeout: 300,
      verification_level: 0,
      default_message_notifications: 0,
      explicit_content_filter: 0,
      roles: [...guild.roles.values()].map(toApiRole),
      emojis: [],
      stickers: [],
      features: [],
      mfa_level: 0,
      application_id: null,
      system_channel_id: null,
      system_channel_flags: 0,
      rules_channel_id: null,
      vanity_url_code: null,
      description: null,
      banner: null,
      premium_tier: 0,
      preferred_locale: 'en-US',
      public_updates_channel_id: null,
      nsfw_level: 0,
      premium_progress_bar_enabled: false,
      safety_alerts_channel_id: null,
      joined_at: new Date().toISOString(),
      large: false,
      unavailable: false,
      member_count: guild.members.size,
      members: [...guild.members.values()].map((m) => toApiMember(m, this.users)),
      channels: guild.channelIds
        .map((id) => this.channels.get(id))
        .filter((c): c is EmuChannel => c !== undefined && c.type === ChannelType.GuildText)
        .map((c) => toApiChannel(c, this.users)),
      threads: guild.channelIds
        .map((id) => this.channels.get(id))
        .filter((c): c is EmuChannel => c !== undefined && c.type !== ChannelType.GuildText && !c.archived)
        .map((c) => toApiChannel(c, this.users)),
      presences: [],
      voice_states: [],
      stage_instances: [],
      guild_scheduled_events: [],
      soundboard_sounds: [],
    };
  }
}
