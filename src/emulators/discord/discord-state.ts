import { randomBytes } from 'node:crypto';
import {
  ChannelType,
  ComponentType,
  EmbedType,
  MessageFlags,
  MessageType,
  PermissionFlagsBits,
  type APIAttachment,
  type APIChannel,
  type APIEmbed,
  type APIGuildMember,
  type APIMessage,
  type APIRole,
  type APIUser,
  type ChannelFlags,
  type GuildMemberFlags,
  type RoleFlags,
  type UserFlags,
} from 'discord-api-types/v10';

const DISCORD_EPOCH = 1420070400000n;
let sequence = 0n;

/** Real-looking snowflakes so discord.js timestamp helpers (createdAt, SnowflakeUtil) behave. */
export function snowflake(): string {
  sequence = (sequence + 1n) & 0xfffn;
  return (((BigInt(Date.now()) - DISCORD_EPOCH) << 22n) | sequence).toString();
}

export function randomToken(bytes = 24): string {
  return randomBytes(bytes).toString('hex');
}

export const ALL_PERMISSIONS = Object.values(PermissionFlagsBits).reduce((acc, bit) => acc | bit, 0n);

export interface EmuUser {
  id: string;
  username: string;
  bot: boolean;
}

export interface EmuRole {
  id: string;
  name: string;
  permissions: bigint;
  position: number;
}

export interface EmuMember {
  userId: string;
  roleIds: Set<string>;
  nick: string | null;
  joinedAt: string;
}

export interface EmuChannel {
  id: string;
  type: ChannelType;
  name: string;
  guildId: string | null;
  parentId: string | null;
  /** DM recipient. */
  recipientId?: string;
  archived?: boolean;
  locked?: boolean;
  autoArchiveDuration?: number;
  ownerId?: string;
  threadMemberIds?: Set<string>;
  /** Threads: when it was created or last had a message (ms), the clock its auto-archive duration runs from. */
  lastActivityAt?: number;
  /** Guild text channels: permission overwrites (threads inherit their parent's). */
  overwrites?: EmuOverwrite[];
}

/** A channel permission overwrite; `type` 0 = role (the guild id is @everyone), 1 = member. */
export interface EmuOverwrite {
  id: string;
  type: 0 | 1;
  allow: bigint;
  deny: bigint;
}

export interface EmuGuild {
  id: string;
  name: string;
  ownerId: string;
  roles: Map<string, EmuRole>;
  members: Map<string, EmuMember>;
  channelIds: string[];
}

export interface EmuFile {
  id: string;
  name: string;
  contentType: string | undefined;
  data: Buffer;
}

/**
 * A message as stored by the emulator: the wire shape plus who may see it (ephemeral) and the uploaded bytes.
 * The object is live: edits by the bot mutate it in place, so a test holding it always sees the latest state.
 */
export type EmuMessage = APIMessage & {
  ephemeral: boolean;
  files: EmuFile[];
  deleted: boolean;
  /** Token of the interaction that produced it (replies and follow-ups). */
  interactionToken?: string;
  /** The user an ephemeral message is shown to. */
  visibleTo?: string;
};

export function toApiUser(user: EmuUser): APIUser {
  return {
    id: user.id,
    username: user.username,
    discriminator: '0',
    global_name: user.bot ? null : user.username,
    avatar: null,
    public_flags: 0 as UserFlags,
    flags: 0 as UserFlags,
    primary_guild: null,
    ...(user.bot ? { bot: true } : {}),
  };
}

export function toApiRole(role: EmuRole): APIRole {
  return {
    id: role.id,
    name: role.name,
    color: 0,
    colors: { primary_color: 0, secondary_color: null, tertiary_color: null },
    hoist: false,
    icon: null,
    unicode_emoji: null,
    position: role.position,
    permissions: role.permissions.toString(),
    managed: false,
    mentionable: false,
    flags: 0 as RoleFlags,
  };
}

export function toApiChannel(channel: EmuChannel, users: Map<string, EmuUser>): APIChannel {
  if (channel.type === ChannelType.DM) {
    const recipient = channel.recipientId ? users.get(channel.recipientId) : undefined;
    return {
      id: channel.id,
      type: ChannelType.DM,
      last_message_id: null,
      recipients: recipient ? [toApiUser(recipient)] : [],
      flags: 0 as ChannelFlags,
    } as unknown as APIChannel;
  }
  if (channel.type === ChannelType.PublicThread || channel.type === ChannelType.PrivateThread) {
    return {
      id: channel.id,
      type: channel.type,
      name: channel.name,
      guild_id: channel.guildId ?? '',
      parent_id: channel.parentId,
      owner_id: channel.ownerId ?? '',
      last_message_id: null,
      message_count: 0,
      total_message_sent: 0,
      member_count: channel.threadMemberIds?.size ?? 0,
      rate_limit_per_user: 0,
      flags: 0,
      thread_metadata: {
        archived: channel.archived ?? false,
        auto_archive_duration: (channel.autoArchiveDuration ?? 1440) as 60 | 1440 | 4320 | 10080,
        archive_timestamp: new Date().toISOString(),
        locked: channel.locked ?? false,
      },
    } as unknown as APIChannel;
  }
  return {
    id: channel.id,
    type: ChannelType.GuildText,
    name: channel.name,
    guild_id: channel.guildId ?? '',
    position: 0,
    permission_overwrites: (channel.overwrites ?? []).map((o) => ({ id: o.id, type: o.type, allow: o.allow.toString(), deny: o.deny.toString() })),
    parent_id: channel.parentId,
    nsfw: false,
    topic: null,
    last_message_id: null,
    rate_limit_per_user: 0,
    flags: 0,
  } as unknown as APIChannel;
}

export function memberPermissions(guild: EmuGuild, member: EmuMember): bigint {
  if (guild.ownerId === member.userId) return ALL_PERMISSIONS;
  let perms = guild.roles.get(guild.id)?.permissions ?? 0n;
  for (const roleId of member.roleIds) perms |= guild.roles.get(roleId)?.permissions ?? 0n;
  return perms & PermissionFlagsBits.Administrator ? ALL_PERMISSIONS : perms;
}

/**
 * A member's permissions in a channel, as Discord computes them: guild base permissions (Administrator = all), then
 * the channel's overwrites for @everyone, then the member's roles (denies before allows), then the member. A thread
 * uses its parent's overwrites.
 */
export function channelPermissions(guild: EmuGuild, member: EmuMember, channel: EmuChannel, channels: Map<string, EmuChannel>): bigint {
  const base = memberPermissions(guild, member);
  if (base & PermissionFlagsBits.Administrator || guild.ownerId === member.userId) return ALL_PERMISSIONS;
  const source = channel.type === ChannelType.PublicThread || channel.type === ChannelType.PrivateThread ? channels.get(channel.parentId ?? '') : channel;
  const overwrites = source?.overwrites ?? [];
  let perms = base;
  const everyone = overwrites.find((o) => o.type === 0 && o.id === guild.id);
  if (everyone) perms = (perms & ~everyone.deny) | everyone.allow;
  let allow = 0n;
  let deny = 0n;
  for (const o of overwrites) {
    if (o.type === 0 && o.id !== guild.id && member.roleIds.has(o.id)) {
      allow |= o.allow;
      deny |= o.deny;
    }
  }
  perms = (perms & ~deny) | allow;
  const own = overwrites.find((o) => o.type === 1 && o.id === member.userId);
  if (own) perms = (perms & ~own.deny) | own.allow;
  return perms;
}

/** The position of a member's highest role (@everyone is 0): who may manage which roles. */
export function highestRolePosition(guild: EmuGuild, member: EmuMember): number {
  return Math.max(0, ...[...member.roleIds].map((id) => guild.roles.get(id)?.position ?? 0));
}

export function toApiMember(member: EmuMember, users: Map<string, EmuUser>): APIGuildMember {
  const user = users.get(member.userId);
  if (!user) throw new Error(`member without user ${member.userId}`);
  return {
    user: toApiUser(user),
    nick: member.nick,
    avatar: null,
    banner: null,
    roles: [...member.roleIds],
    joined_at: member.joinedAt,
    premium_since: null,
    communication_disabled_until: null,
    deaf: false,
    mute: false,
    flags: 0 as GuildMemberFlags,
    pending: false,
  };
}

/** Public fields only: what goes back over the wire to the bot. */
export function toApiMessage(message: EmuMessage): APIMessage {
  const { ephemeral: _e, files: _f, deleted: _d, interactionToken: _t, visibleTo: _v, ...api } = message;
  return api;
}

export interface MessageInput {
  content?: string;
  embeds?: APIMessage['embeds'];
  components?: APIMessage['components'];
  flags?: number;
  attachments?: Array<{ id: string | number; filename?: string; description?: string }>;
}

export function newMessage(opts: {
  channelId: string;
  author: EmuUser;
  input: MessageInput;
  files: EmuFile[];
  type?: MessageType;
  appId?: string;
  interactionToken?: string;
  visibleTo?: string;
}): EmuMessage {
  const flags = opts.input.flags ?? 0;
  const message: EmuMessage = {
    id: snowflake(),
    channel_id: opts.channelId,
    author: toApiUser(opts.author),
    content: opts.input.content ?? '',
    timestamp: new Date().toISOString(),
    edited_timestamp: null,
    tts: false,
    mention_everyone: false,
    mentions: [],
    mention_roles: [],
    attachments: [],
    embeds: asSentEmbeds(opts.input.embeds ?? []),
    components: asSentComponents(opts.input.components ?? []),
    pinned: false,
    type: opts.type ?? MessageType.Default,
    flags,
    ephemeral: (flags & MessageFlags.Ephemeral) !== 0,
    files: [],
    deleted: false,
    ...(opts.appId ? { webhook_id: opts.appId, application_id: opts.appId } : {}),
    ...(opts.interactionToken ? { interactionToken: opts.interactionToken } : {}),
    ...(opts.visibleTo ? { visibleTo: opts.visibleTo } : {}),
  };
  applyFiles(message, opts.input, opts.files);
  return message;
}

/** Applies an edit the way Discord does: only provided fields change; `attachments` lists the ones to keep. */
export function editMessage(message: EmuMessage, input: MessageInput, files: EmuFile[]): void {
  if (input.content !== undefined) message.content = input.content ?? '';
  if (input.embeds !== undefined) message.embeds = asSentEmbeds(input.embeds ?? []);
  if (input.components !== undefined) message.components = asSentComponents(input.components ?? []);
  // Ephemeral cannot be toggled by an edit; an edit of a deferred reply ends its "thinking" state.
  message.flags = (message.flags ?? 0) & ~MessageFlags.Loading;
  message.edited_timestamp = new Date().toISOString();
  if (input.attachments !== undefined || files.length > 0) applyFiles(message, input, files);
}

/** Embeds as Discord stores them: a bot's embeds are 'rich', and every field says whether it is inline. */
function asSentEmbeds(embeds: APIEmbed[]): APIEmbed[] {
  return embeds.map((e) => ({
    type: EmbedType.Rich,
    ...e,
    ...(e.fields ? { fields: e.fields.map((f) => ({ ...f, inline: f.inline ?? false })) } : {}),
  }));
}

/**
 * Components as Discord stores them: every component gets a numeric `id` (sequential, depth-first, unless the bot
 * set one) and selects their default min/max values.
 */
function asSentComponents(rows: NonNullable<APIMessage['components']>): NonNullable<APIMessage['components']> {
  let next = 1;
  const visit = (c: Record<string, unknown>): Record<string, unknown> => {
    const out: Record<string, unknown> = { ...c, id: c.id ?? next };
    next = Math.max(next, Number(out.id)) + 1;
    if (SELECT_TYPES.has(c.type as ComponentType)) {
      out.min_values ??= 1;
      out.max_values ??= 1;
    }
    if (Array.isArray(c.components)) out.components = (c.components as Array<Record<string, unknown>>).map(visit);
    return out;
  };
  return rows.map((r) => visit(r as unknown as Record<string, unknown>)) as unknown as NonNullable<APIMessage['components']>;
}

const SELECT_TYPES = new Set([ComponentType.StringSelect, ComponentType.UserSelect, ComponentType.RoleSelect, ComponentType.MentionableSelect, ComponentType.ChannelSelect]);

function applyFiles(message: EmuMessage, input: MessageInput, files: EmuFile[]): void {
  const keep = new Set((input.attachments ?? []).map((a) => String(a.id)));
  const kept = message.files.filter((f) => keep.has(f.id));
  const added = files.map((f, index) => {
    const meta = input.attachments?.find((a) => String(a.id) === String(index));
    return { ...f, name: meta?.filename ?? f.name };
  });
  message.files = [...kept, ...added];
  message.attachments = message.files.map(
    (f): APIAttachment => ({
      id: f.id,
      filename: f.name,
      size: f.data.length,
      url: `https://cdn.discordapp.invalid/attachments/${message.channel_id}/${f.id}/${f.name}`,
      proxy_url: `https://media.discordapp.invalid/attachments/${message.channel_id}/${f.id}/${f.name}`,
      ...(f.contentType ? { content_type: f.contentType } : {}),
    }),
  );
}
