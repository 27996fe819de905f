// Over ~500 lines on purpose: this is the driver API every test calls (users, guilds, permissions, commands, clicks,
// modals, DMs) and each method is a few lines over world/gateway/builder; splitting it would scatter that one surface.
import { appendFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ChannelType,
  ComponentType,
  GatewayDispatchEvents,
  InteractionType,
  PermissionFlagsBits,
  type APIApplicationCommand,
} from 'discord-api-types/v10';
import {
  channelPermissions,
  memberPermissions,
  newMessage,
  snowflake,
  toApiChannel,
  toApiMember,
  toApiMessage,
  toApiRole,
  toApiUser,
  type EmuChannel,
  type EmuGuild,
  type EmuMessage,
  type EmuRole,
  type EmuUser,
} from './discord-state';
import { DiscordWorld, type EmulatorFailure, type RecordedRequest, type RoleChange, type ThreadMemberAdd } from './discord-world';
import { DiscordGateway, type GatewayShardingOptions } from './gateway';
import { InteractionBuilder, type InteractionOptions, type OptionValue } from './interaction-builder';
import { InteractionResult, type InteractionRecord } from './interaction-result';
import { applicationRoutes } from './rest/applications';
import { channelRoutes, guildIdOf } from './rest/channels';
import { gatewayInfoRoutes } from './rest/gateway-info';
import { guildRoutes } from './rest/guilds';
import { interactionRoutes } from './rest/interactions';
import type { RestDeps } from './rest/lookups';
import type { RateLimitOptions } from './rest/rate-limits';
import { RestRouter, type ConformanceStats } from './rest/router';
import { discordSpec } from './rest/spec-conformance';
import { addThreadMember, archiveIdleThreads } from './rest/threads';
import { userRoutes } from './rest/users';

export type { EmulatorFailure, RecordedRequest, RoleChange, ThreadMemberAdd } from './discord-world';
export type { AttachmentInput, InteractionOptions, OptionValue } from './interaction-builder';

export interface DiscordEmulatorOptions {
  guildName?: string;
  botName?: string;
  token?: string;
  appId?: string;
  /** Default 0: any free loopback port. */
  port?: number;
  heartbeatIntervalMs?: number;
  /** Recommended shard count, guilds per shard, session start limit (see {@link GatewayShardingOptions}). */
  sharding?: GatewayShardingOptions;
  /** Privileged intents enabled in the developer portal (default all); IDENTIFY asking for others closes 4014. */
  privilegedIntents?: number;
  /**
   * Default true: every request body and JSON response is checked against Discord's OpenAPI description, and a
   * violation is recorded in `failures` (the spec is parsed once per process; validators compile on first use).
   */
  specConformance?: boolean;
  /**
   * Discord's rate limits: per-route buckets with `X-RateLimit-*` headers and 429 + `retry_after`, and the global
   * limit. Off by default; `true` uses Discord's numbers (5 per 5 s per bucket, 50/s global).
   */
  rateLimits?: boolean | RateLimitOptions;
  /** Wall clock for the 15-minute interaction token lifetime, so tests can advance it; default Date.now. */
  now?: () => number;
}

/** Set to a file path to get one JSON line per closed emulator (spec traffic, slowest initial response). */
export const EMULATOR_STATS_ENV = 'SOLBOUND_DISCORD_EMU_STATS';

/** Where the bot's own role sits by default: above every role a test makes. */
const BOT_ROLE_POSITION = 1_000;

/** A channel overwrite as a test states it (bits not named are inherited). */
export interface OverwriteInput {
  allow?: bigint;
  deny?: bigint;
}

export interface UserOptions {
  roles?: Array<string | EmuRole>;
  /** Gives the member a role with Administrator (and so ManageGuild). */
  admin?: boolean;
  /** Default true: the user is a member of the guild. */
  member?: boolean;
}

/**
 * A loopback Discord: REST under /api/v10 and the gateway WebSocket on one port, plus the driver tests use (users,
 * roles, channels, messages, slash commands, clicks, modals). The parts: {@link DiscordWorld} (state),
 * {@link DiscordGateway}, {@link RestRouter} with one route file per resource group under rest/, and
 * {@link InteractionBuilder}.
 */
export class DiscordEmulator {
  readonly token: string;
  readonly appId: string;
  readonly bot: EmuUser;

  readonly users: Map<string, EmuUser>;
  readonly channels: Map<string, EmuChannel>;
  readonly guilds: Map<string, EmuGuild>;
  readonly messages: EmuMessage[];
  readonly requests: RecordedRequest[];
  readonly failures: EmulatorFailure[];
  readonly roleChanges: RoleChange[];
  readonly threadMembers: ThreadMemberAdd[];
  readonly interactions: Map<string, InteractionRecord>;
  readonly guildCommands: Map<string, APIApplicationCommand[]>;
  /** Total IDENTIFYs and RESUMEs seen: lets tests tell a resume from a fresh login. */
  readonly gatewayStats: { identifies: number; resumes: number; heartbeats: number };

  private readonly world: DiscordWorld;
  /** The gateway's own driver: `requestReconnect` (op 7), `zombieConnection`, `privilegedIntents`. */
  readonly gateway: DiscordGateway;
  private readonly rest: RestRouter;
  private readonly builder: InteractionBuilder;
  private server: Server | undefined;
  private port = 0;

  constructor(private readonly options: DiscordEmulatorOptions = {}) {
    const world = new DiscordWorld(options);
    this.world = world;
    ({ token: this.token, appId: this.appId, bot: this.bot } = world);
    ({ users: this.users, channels: this.channels, guilds: this.guilds, messages: this.messages } = world);
    ({ requests: this.requests, failures: this.failures, roleChanges: this.roleChanges, threadMembers: this.threadMembers } = world);
    ({ interactions: this.interactions, guildCommands: this.guildCommands } = world);
    this.gateway = new DiscordGateway(world, {
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? 41_250,
      gatewayUrl: () => this.gatewayUrl,
      ...(options.sharding ? { sharding: options.sharding } : {}),
      ...(options.privilegedIntents !== undefined ? { privilegedIntents: options.privilegedIntents } : {}),
    });
    this.gatewayStats = this.gateway.stats;
    this.builder = new InteractionBuilder(world, () => this.url);
    this.rest = new RestRouter(world, {
      spec: options.specConformance === false ? undefined : discordSpec(),
      rateLimits: options.rateLimits === true ? {} : options.rateLimits || undefined,
    });
    const deps: RestDeps = { world, gateway: this.gateway, gatewayUrl: () => this.gatewayUrl };
    for (const routes of [gatewayInfoRoutes, userRoutes, applicationRoutes, interactionRoutes, channelRoutes, guildRoutes]) {
      this.rest.register(routes(deps));
    }
    this.joinGuild();
  }

  /** The guild driver methods (user, role, channel, runCommand…) act in; see `addGuild` and `inGuild`. */
  get guild(): EmuGuild {
    return this.world.guild;
  }

  /**
   * The bot in the current guild with Administrator, and a #general. Its role sits at the top of the role list (as
   * server admins place a bot that manages roles), so roles made later stay below it; see `setBotPermissions`.
   */
  private joinGuild(): void {
    const botRole = this.role('Solbound', { permissions: PermissionFlagsBits.Administrator });
    botRole.position = BOT_ROLE_POSITION;
    this.guild.members.set(this.bot.id, { userId: this.bot.id, roleIds: new Set([botRole.id]), nick: null, joinedAt: new Date().toISOString() });
    this.channel('general');
  }

  /**
   * The bot joins another guild (GUILD_CREATE to the sessions of its shard). The current guild stays current: drive
   * the new one with `inGuild`. `id` puts it on a chosen shard (see `snowflakeOnShard`).
   */
  addGuild(name: string, opts: { id?: string } = {}): EmuGuild {
    const guild = this.world.createGuild(name, `owner-${this.guilds.size + 1}`, opts.id);
    this.inGuild(guild, () => this.joinGuild());
    this.dispatch(GatewayDispatchEvents.GuildCreate, this.world.guildPayload(guild));
    return guild;
  }

  /** Runs `fn` with `guild` as the current guild: users, roles, channels and interactions made inside belong to it. */
  inGuild<T>(guild: EmuGuild, fn: () => T): T {
    const previous = this.world.guild;
    this.world.guild = guild;
    try {
      return fn();
    } finally {
      this.world.guild = previous;
    }
  }

  /** Gateway sessions with their `[shard, count]` and whether their socket is up. */
  get shardSessions(): Array<{ id: string; shard: [number, number]; connected: boolean }> {
    return this.gateway.shardSessions;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }
  /** Pass as discord.js `rest.api`. */
  get apiUrl(): string {
    return `${this.url}/api`;
  }
  get gatewayUrl(): string {
    return `ws://127.0.0.1:${this.port}/gateway`;
  }
  get globalCommands(): APIApplicationCommand[] {
    return this.world.globalCommands;
  }
  set globalCommands(commands: APIApplicationCommand[]) {
    this.world.globalCommands = commands;
  }
  /** Interaction replies and follow-ups, oldest first. */
  get replies(): EmuMessage[] {
    return this.messages.filter((m) => m.interactionToken !== undefined);
  }
  get dms(): EmuMessage[] {
    return this.messages.filter((m) => this.channels.get(m.channel_id)?.type === ChannelType.DM);
  }
  get connected(): boolean {
    return this.gateway.connected;
  }

  async listen(): Promise<void> {
    const server = createServer((req, res) => void this.rest.handle(req, res));
    server.keepAliveTimeout = 60_000;
    server.on('upgrade', (req, socket, head) => this.gateway.handleUpgrade(req, socket, head));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 0, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  /** Requests and responses checked against the spec, and violations found. */
  get conformance(): Readonly<ConformanceStats> {
    return this.rest.conformance;
  }
  /** Initial interaction responses seen and the slowest (ms after INTERACTION_CREATE left). */
  get responseLatency(): Readonly<{ count: number; worstMs: number; worst: string }> {
    return this.world.responseLatency;
  }

  async close(): Promise<void> {
    const statsFile = process.env[EMULATOR_STATS_ENV];
    if (statsFile && this.server) {
      appendFileSync(statsFile, `${JSON.stringify({ guild: this.guild.name, ...this.conformance, responseLatency: this.responseLatency })}\n`);
    }
    this.gateway.close();
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  // ---------------------------------------------------------------- driver: world state

  /** Gets or creates a user (and, by default, a guild member) by username. */
  user(name: string, opts: UserOptions = {}): EmuUser {
    const username = name.replace(/^@/, '');
    let user = [...this.users.values()].find((u) => u.username === username);
    if (!user) {
      user = { id: snowflake(), username, bot: false };
      this.users.set(user.id, user);
    }
    if (opts.member !== false) {
      let member = this.guild.members.get(user.id);
      const isNew = !member;
      if (!member) {
        member = { userId: user.id, roleIds: new Set(), nick: null, joinedAt: new Date().toISOString() };
        this.guild.members.set(user.id, member);
      }
      const rolesBefore = member.roleIds.size;
      for (const r of opts.roles ?? []) member.roleIds.add(typeof r === 'string' ? this.role(r).id : r.id);
      if (opts.admin) member.roleIds.add(this.role('Admin', { permissions: PermissionFlagsBits.Administrator }).id);
      if (isNew || member.roleIds.size !== rolesBefore) {
        const payload = { guild_id: this.guild.id, ...toApiMember(member, this.users) };
        this.dispatch(isNew ? GatewayDispatchEvents.GuildMemberAdd : GatewayDispatchEvents.GuildMemberUpdate, payload);
      }
    }
    return user;
  }

  /** Gets or creates a guild role by name. */
  role(name: string, opts: { permissions?: bigint } = {}): EmuRole {
    const existing = [...this.guild.roles.values()].find((r) => r.name === name);
    if (existing) return existing;
    const role: EmuRole = { id: snowflake(), name, permissions: opts.permissions ?? 0n, position: this.guild.roles.size };
    this.guild.roles.set(role.id, role);
    this.dispatch(GatewayDispatchEvents.GuildRoleCreate, { guild_id: this.guild.id, role: toApiRole(role) });
    return role;
  }

  /** Gets or creates a guild text channel by name. */
  channel(name: string): EmuChannel {
    const plain = name.replace(/^#/, '');
    const existing = this.guild.channelIds.map((id) => this.channels.get(id)).find((c) => c?.name === plain);
    if (existing) return existing;
    const channel: EmuChannel = { id: snowflake(), type: ChannelType.GuildText, name: plain, guildId: this.guild.id, parentId: null };
    this.channels.set(channel.id, channel);
    this.guild.channelIds.push(channel.id);
    this.dispatch(GatewayDispatchEvents.ChannelCreate, toApiChannel(channel, this.users));
    return channel;
  }

  findUser(ref: string): EmuUser | undefined {
    return this.world.findUser(ref);
  }

  hasRole(user: EmuUser, role: EmuRole | string): boolean {
    const roleId = typeof role === 'string' ? [...this.guild.roles.values()].find((r) => r.name === role)?.id : role.id;
    return roleId !== undefined && (this.guild.members.get(user.id)?.roleIds.has(roleId) ?? false);
  }

  /**
   * Messages in a channel (or a user's DMs), oldest first: what the bot posted through the channel API and what users
   * wrote with `say`; interaction replies are in `replies`.
   */
  channelMessages(target: EmuChannel | EmuUser | string): EmuMessage[] {
    let channelId: string | undefined;
    if (typeof target === 'string') channelId = this.channel(target).id;
    else if ('username' in target) channelId = [...this.channels.values()].find((c) => c.type === ChannelType.DM && c.recipientId === target.id)?.id;
    else channelId = target.id;
    return this.messages.filter((m) => m.channel_id === channelId && !m.deleted && m.interactionToken === undefined);
  }

  /** Resolves once a bot session has IDENTIFYed and received its guilds. */
  waitForBot(timeoutMs = 10_000): Promise<void> {
    return this.gateway.waitForBot(timeoutMs);
  }

  /** Kills every gateway socket without a close frame; resolves when the bot has RESUMEd. */
  dropConnection(timeoutMs = 10_000): Promise<void> {
    return this.gateway.dropConnection(timeoutMs);
  }

  /** Forgets all sessions and tells connected bots their session is invalid (they must IDENTIFY again). */
  invalidateSessions(): void {
    this.gateway.invalidateSessions();
  }

  /** Sends an event to every session; disconnected sessions buffer it for RESUME replay. */
  dispatch(t: string, d: unknown): void {
    this.gateway.dispatch(t, d);
  }

  // ---------------------------------------------------------------- driver: permissions

  /**
   * Replaces the permissions of the bot's role in the current guild (default: Administrator) and, with `position`,
   * moves the role (roles at or above it are out of the bot's reach). Sends GUILD_ROLE_UPDATE, so the bot's cache
   * agrees with what the REST guard enforces.
   */
  setBotPermissions(permissions: bigint, opts: { position?: number } = {}): EmuRole {
    const role = this.botRole();
    role.permissions = permissions;
    if (opts.position !== undefined) role.position = opts.position;
    this.dispatch(GatewayDispatchEvents.GuildRoleUpdate, { guild_id: this.guild.id, role: toApiRole(role) });
    return role;
  }

  /** The bot's own role in the current guild. */
  botRole(): EmuRole {
    const member = this.guild.members.get(this.bot.id);
    const role = [...(member?.roleIds ?? [])].map((id) => this.guild.roles.get(id)).find((r) => r !== undefined);
    if (!role) throw new Error(`the bot has no role in ${this.guild.name}`);
    return role;
  }

  /**
   * Sets (or with no bits, removes) a permission overwrite on a guild text channel for @everyone (`'everyone'`), a
   * role, or a member (a user, the bot included); threads follow their parent. Sends CHANNEL_UPDATE.
   */
  setOverwrite(channel: EmuChannel, target: 'everyone' | EmuRole | EmuUser, bits: OverwriteInput): void {
    if (channel.type !== ChannelType.GuildText) throw new Error(`#${channel.name}: overwrites are set on text channels (threads use their parent's)`);
    const id = target === 'everyone' ? (channel.guildId ?? '') : target.id;
    const type = target !== 'everyone' && 'username' in target ? 1 : 0;
    const rest = (channel.overwrites ?? []).filter((o) => o.id !== id);
    const allow = bits.allow ?? 0n;
    const deny = bits.deny ?? 0n;
    channel.overwrites = allow === 0n && deny === 0n ? rest : [...rest, { id, type, allow, deny }];
    this.dispatch(GatewayDispatchEvents.ChannelUpdate, toApiChannel(channel, this.users));
  }

  /** The bot's permissions in a channel (or its guild base permissions), as the REST guard computes them. */
  botPermissions(channel?: EmuChannel): bigint {
    const guild = channel ? this.world.guildOf(channel) : this.guild;
    const me = guild.members.get(this.bot.id);
    if (!me) return 0n;
    return channel ? channelPermissions(guild, me, channel, this.channels) : memberPermissions(guild, me);
  }

  /** The user stops accepting DMs from the bot: sending them one answers 50007 Cannot send messages to this user. */
  closeDms(user: EmuUser): void {
    this.world.dmsClosed.add(user.id);
  }

  openDms(user: EmuUser): void {
    this.world.dmsClosed.delete(user.id);
  }

  // ---------------------------------------------------------------- driver: user messages

  /**
   * A user writes `content` in a guild channel or thread: the message is stored and MESSAGE_CREATE goes to every bot
   * session that identified with GuildMessages (DirectMessages for DMs); `content` stays empty unless the session has
   * MessageContent, as on Discord. A private thread needs thread membership or Manage Threads (see `joinThread`).
   */
  say(user: EmuUser, target: EmuChannel | string, content: string): EmuMessage {
    const channel = typeof target === 'object' ? target : this.findChannel(target);
    if (!channel) throw new Error(`no channel or thread ${target as string}`);
    if (channel.guildId !== null) {
      const member = this.guild.members.get(user.id);
      if (!member) throw new Error(`${user.username} is not a member of ${this.guild.name}`);
      const manageThreads = (memberPermissions(this.guild, member) & PermissionFlagsBits.ManageThreads) !== 0n;
      if (channel.type === ChannelType.PrivateThread && !channel.threadMemberIds?.has(user.id) && !manageThreads) {
        throw new Error(`${user.username} cannot see private thread #${channel.name} (not a thread member; use emu.joinThread)`);
      }
      if (channel.locked && !manageThreads) throw new Error(`thread #${channel.name} is locked`);
      if (channel.archived) {
        // Writing in an archived (unlocked) thread unarchives it.
        channel.archived = false;
        this.dispatch(GatewayDispatchEvents.ThreadUpdate, toApiChannel(channel, this.users));
      }
    }
    if (!this.gateway.hasSessions) throw new Error('no bot is connected to the gateway');
    const message = newMessage({ channelId: channel.id, author: user, input: { content }, files: [] });
    message.mentions = [...content.matchAll(/<@!?(\d+)>/g)].map((m) => this.users.get(m[1]!)).filter((u): u is EmuUser => u !== undefined).map(toApiUser);
    message.mention_roles = [...content.matchAll(/<@&(\d+)>/g)].map((m) => m[1]!).filter((id) => this.guild.roles.has(id));
    this.world.addMessage(message);
    this.dispatchMessageCreate(message);
    return message;
  }

  /** A user edits their message: MESSAGE_UPDATE to sessions with GuildMessages (DirectMessages in a DM). */
  editMessage(message: EmuMessage, content: string): void {
    if (message.deleted) throw new Error(`message ${message.id} was deleted`);
    message.content = content;
    message.edited_timestamp = new Date().toISOString();
    this.dispatch(GatewayDispatchEvents.MessageUpdate, { ...toApiMessage(message), ...guildIdOf(this.world, message.channel_id) });
  }

  /** A message is deleted (by its author or a moderator): MESSAGE_DELETE, filtered by intents like MESSAGE_CREATE. */
  deleteMessage(message: EmuMessage): void {
    message.deleted = true;
    this.dispatch(GatewayDispatchEvents.MessageDelete, { id: message.id, channel_id: message.channel_id, ...guildIdOf(this.world, message.channel_id) });
  }

  /** The user leaves (or is kicked from) the current guild: GUILD_MEMBER_REMOVE to sessions with GuildMembers. */
  removeMember(user: EmuUser): void {
    if (!this.guild.members.delete(user.id)) throw new Error(`${user.username} is not a member of ${this.guild.name}`);
    this.dispatch(GatewayDispatchEvents.GuildMemberRemove, { guild_id: this.guild.id, user: toApiUser(user) });
  }

  /** Adds a user to a thread, as joining it (or being mentioned into a private one) does: THREAD_MEMBERS_UPDATE. */
  joinThread(user: EmuUser, thread: EmuChannel): void {
    if (!thread.threadMemberIds) throw new Error(`#${thread.name} is not a thread`);
    addThreadMember(this.world, this.gateway, thread, user.id);
  }

  /** Discord's background sweep at `now` (ms): threads idle for their auto-archive duration archive (THREAD_UPDATE). */
  archiveIdleThreads(now: number): EmuChannel[] {
    return archiveIdleThreads(this.world, this.gateway, now);
  }

  /** MESSAGE_CREATE for a stored message to every session whose intents cover it (tests replay events with it). */
  dispatchMessageCreate(message: EmuMessage): void {
    this.gateway.dispatchMessageCreate(message);
  }

  /** A channel or thread by `<#id>`, id or name (with or without '#'); undefined when there is none. */
  findChannel(ref: string): EmuChannel | undefined {
    return this.world.findChannel(ref);
  }

  // ---------------------------------------------------------------- driver: interactions

  /** Runs a slash command, e.g. `runCommand(alice, '/wallet link')` or `runCommand(bob, '/tip', { user: alice, amount: 1.5 })`. */
  runCommand(user: EmuUser, command: string, options: Record<string, OptionValue> = {}, opts: InteractionOptions = {}): InteractionResult {
    const data = this.builder.commandData(user, command, options, opts);
    return this.sendInteraction(user, opts, { type: InteractionType.ApplicationCommand, data });
  }

  /** Sends an autocomplete interaction with `focused` as the option being typed. */
  autocomplete(user: EmuUser, command: string, options: Record<string, OptionValue>, focused: string, opts: InteractionOptions = {}): InteractionResult {
    const data = this.builder.commandData(user, command, options, opts, focused);
    return this.sendInteraction(user, opts, { type: InteractionType.ApplicationCommandAutocomplete, data });
  }

  click(user: EmuUser, message: EmuMessage, customId: string): InteractionResult {
    return this.sendComponent(user, message, this.builder.clickData(message, customId));
  }

  /**
   * A modified client pressing a button with a custom id the message does not carry (custom ids are not secret):
   * for tests that handlers re-check authority instead of trusting who was shown the button.
   */
  forgeClick(user: EmuUser, message: EmuMessage, customId: string): InteractionResult {
    return this.sendComponent(user, message, { custom_id: customId, component_type: ComponentType.Button });
  }

  select(user: EmuUser, message: EmuMessage, customId: string, values: string[]): InteractionResult {
    return this.sendComponent(user, message, this.builder.selectData(message, customId, values));
  }

  /** Submits the modal the bot showed in answer to `shownBy`. */
  submitModal(user: EmuUser, shownBy: InteractionResult, customId: string, fields: Record<string, string>): InteractionResult {
    const modal = shownBy.shownModal;
    if (!modal) throw new Error('that interaction did not show a modal');
    const data = this.builder.modalSubmitData(modal, customId, fields);
    const source = shownBy.record.sourceMessage;
    return this.sendInteraction(user, { channel: shownBy.record.channelId }, {
      type: InteractionType.ModalSubmit,
      data,
      ...(source ? { message: toApiMessage(source) } : {}),
    }, source);
  }

  private sendComponent(user: EmuUser, message: EmuMessage, data: Record<string, unknown>): InteractionResult {
    if (message.deleted) throw new Error(`message ${message.id} was deleted`);
    return this.sendInteraction(
      user,
      { channel: message.channel_id },
      { type: InteractionType.MessageComponent, data, message: toApiMessage(message) },
      message,
    );
  }

  private sendInteraction(
    user: EmuUser,
    opts: InteractionOptions,
    body: { type: InteractionType; data: unknown; message?: unknown },
    sourceMessage?: EmuMessage,
  ): InteractionResult {
    // A session whose socket just dropped still counts: the event is buffered and replayed on RESUME.
    if (!this.gateway.hasSessions) throw new Error('no bot is connected to the gateway');
    const named = typeof opts.channel === 'object' ? opts.channel : opts.channel ? (this.channels.get(opts.channel) ?? this.channel(opts.channel)) : undefined;
    const channel = opts.dm ? this.world.dmChannelFor(user) : (named ?? this.channel('general'));
    const record = this.builder.record(user, channel, opts.locale, body, sourceMessage);
    this.interactions.set(record.token, record);
    this.dispatch(GatewayDispatchEvents.InteractionCreate, record.payload);
    return new InteractionResult(record);
  }
}

/** Starts an emulator on a loopback port. */
export async function startDiscordEmulator(options: DiscordEmulatorOptions = {}): Promise<DiscordEmulator> {
  const emu = new DiscordEmulator(options);
  await emu.listen();
  return emu;
}
