import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  ApplicationCommandOptionType,
  ApplicationCommandType,
  ChannelType,
  ComponentType,
  GatewayDispatchEvents,
  GatewayIntentBits,
  GatewayOpcodes,
  InteractionContextType,
  InteractionResponseType,
  InteractionType,
  MessageFlags,
  MessageType,
  PermissionFlagsBits,
  type APIActionRowComponent,
  type APIApplicationCommand,
  type APIApplicationCommandOption,
  type APIApplicationCommandOptionChoice,
  type APIChannel,
  type APIComponentInMessageActionRow,
  type APIInteraction,
  type APIInteractionDataResolved,
  type APIInteractionGuildMember,
  type APIMessage,
  type APIModalInteractionResponseCallbackData,
  type GatewayReceivePayload,
} from 'discord-api-types/v10';
import { parseMultipart } from './multipart';
import {
  ALL_PERMISSIONS,
  editMessage,
  memberPermissions,
  newMessage,
  randomToken,
  snowflake,
  toApiChannel,
  toApiMember,
  toApiMessage,
  toApiRole,
  toApiUser,
  type EmuChannel,
  type EmuFile,
  type EmuGuild,
  type EmuMember,
  type EmuMessage,
  type EmuRole,
  type EmuUser,
  type MessageInput,
} from './discord-state';
import { InteractionResult, notify, type InteractionRecord } from './interaction-result';

export interface DiscordEmulatorOptions {
  guildName?: string;
  botName?: string;
  token?: string;
  appId?: string;
  /** Default 0: any free loopback port. */
  port?: number;
  heartbeatIntervalMs?: number;
}

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

export interface UserOptions {
  roles?: Array<string | EmuRole>;
  /** Gives the member a role with Administrator (and so ManageGuild). */
  admin?: boolean;
  /** Default true: the user is a member of the guild. */
  member?: boolean;
}

export interface InteractionOptions {
  channel?: EmuChannel | string;
  /** Send from the user's DM channel with the bot instead of a guild channel. */
  dm?: boolean;
  locale?: string;
}

export interface AttachmentInput {
  name: string;
  data: Buffer | string;
  contentType?: string;
}

export type OptionValue = string | number | boolean | EmuUser | EmuRole | EmuChannel | AttachmentInput;

export interface ThreadMemberAdd {
  threadId: string;
  userId: string;
}

/** What a bot sends over the gateway (only the fields the emulator reads). */
interface GatewayCommand {
  op: number;
  d?: {
    token?: string;
    session_id?: string;
    seq?: number | null;
    shard?: [number, number];
    intents?: number | string;
    guild_id?: string;
    user_ids?: string | string[];
    nonce?: string;
  } | null;
}

type CommandBody = Record<string, unknown> & { name: string };

interface GatewaySession {
  id: string;
  /** Intents sent with IDENTIFY; kept across RESUMEs like Discord does. */
  intents: number;
  seq: number;
  buffer: Array<{ s: number; t: string; d: unknown }>;
  ws: WebSocket | undefined;
  resumeWaiters: Array<() => void>;
}

interface ParsedBody {
  json: unknown;
  files: EmuFile[];
}

type Handler = (ctx: RouteContext) => Promise<void> | void;

interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  query: URLSearchParams;
  body: ParsedBody;
  path: string;
}

interface Route {
  method: string;
  segments: string[];
  auth: boolean;
  handler: Handler;
}

const REPLAY_BUFFER = 5_000;

class DiscordApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
    /** Protocol misuse by the bot (double ack, unknown interaction): fails the test. */
    readonly isFailure = false,
  ) {
    super(message);
  }
}

/** A loopback Discord: REST under /api/v10 and the gateway WebSocket on one port, plus a driver for tests. */
export class DiscordEmulator {
  readonly token: string;
  readonly appId: string;
  readonly bot: EmuUser;
  /** The guild driver methods (user, role, channel, runCommand…) act in; see `addGuild` and `inGuild`. */
  get guild(): EmuGuild {
    return this.current;
  }
  private current!: EmuGuild;

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
  /** Total IDENTIFYs and RESUMEs seen: lets tests tell a resume from a fresh login. */
  readonly gatewayStats = { identifies: 0, resumes: 0, heartbeats: 0 };

  private server: Server | undefined;
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly sessions = new Map<string, GatewaySession>();
  private readonly sockets = new Set<WebSocket>();
  private readonly routes: Route[] = [];
  private readonly messageIndex = new Map<string, EmuMessage>();
  private readonly heartbeatIntervalMs: number;
  private readyWaiters: Array<() => void> = [];
  private port = 0;

  constructor(private readonly options: DiscordEmulatorOptions = {}) {
    this.token = options.token ?? `emu.${randomToken(16)}`;
    this.appId = options.appId ?? snowflake();
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? 41_250;
    this.bot = { id: this.appId, username: options.botName ?? 'Solbound', bot: true };
    this.users.set(this.bot.id, this.bot);
    this.current = this.createGuild(options.guildName ?? 'Solbound Test Guild', 'owner');
    this.registerRoutes();
  }

  /** A guild with an owner, @everyone, the bot (Administrator) and #general; it becomes the current guild. */
  private createGuild(name: string, ownerName: string): EmuGuild {
    const owner: EmuUser = { id: snowflake(), username: ownerName, bot: false };
    this.users.set(owner.id, owner);
    const guildId = snowflake();
    const guild: EmuGuild = {
      id: guildId,
      name,
      ownerId: owner.id,
      roles: new Map([[guildId, { id: guildId, name: '@everyone', permissions: PermissionFlagsBits.ViewChannel | PermissionFlagsBits.SendMessages | PermissionFlagsBits.UseApplicationCommands, position: 0 }]]),
      members: new Map(),
      channelIds: [],
    };
    this.guilds.set(guildId, guild);
    this.current = guild;
    guild.members.set(owner.id, { userId: owner.id, roleIds: new Set(), nick: null, joinedAt: new Date().toISOString() });
    const botRole = this.role('Solbound', { permissions: PermissionFlagsBits.Administrator });
    guild.members.set(this.bot.id, { userId: this.bot.id, roleIds: new Set([botRole.id]), nick: null, joinedAt: new Date().toISOString() });
    this.channel('general');
    return guild;
  }

  /**
   * The bot joins another guild (GUILD_CREATE to connected sessions). The first guild stays current: drive the new
   * one with `inGuild`.
   */
  addGuild(name: string): EmuGuild {
    const first = this.current;
    const guild = this.createGuild(name, `owner-${this.guilds.size + 1}`);
    this.current = first;
    for (const session of this.sessions.values()) this.sendDispatch(session, GatewayDispatchEvents.GuildCreate, this.guildPayload(guild));
    return guild;
  }

  /** Runs `fn` with `guild` as the current guild: users, roles, channels and interactions made inside belong to it. */
  inGuild<T>(guild: EmuGuild, fn: () => T): T {
    const previous = this.current;
    this.current = guild;
    try {
      return fn();
    } finally {
      this.current = previous;
    }
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
  /** Interaction replies and follow-ups, oldest first. */
  get replies(): EmuMessage[] {
    return this.messages.filter((m) => m.interactionToken !== undefined);
  }
  get dms(): EmuMessage[] {
    return this.messages.filter((m) => this.channels.get(m.channel_id)?.type === ChannelType.DM);
  }
  get connected(): boolean {
    return [...this.sessions.values()].some((s) => s.ws !== undefined);
  }

  async listen(): Promise<void> {
    const server = createServer((req, res) => void this.handleHttp(req, res));
    server.keepAliveTimeout = 60_000;
    server.on('upgrade', (req, socket, head) => {
      if (!req.url?.startsWith('/gateway')) {
        this.failures.push({ method: 'UPGRADE', path: req.url ?? '', status: 404, reason: 'unknown websocket path' });
        socket.destroy();
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.onGatewayConnection(ws));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 0, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const ws of this.sockets) ws.terminate();
    this.wss.close();
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
    const mention = /^<@!?(\d+)>$/.exec(ref)?.[1];
    const key = mention ?? ref.replace(/^@/, '');
    return this.users.get(key) ?? [...this.users.values()].find((u) => u.username === key);
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
    if (this.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the bot never connected to the gateway')), timeoutMs);
      this.readyWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Kills every gateway socket without a close frame; resolves when the bot has RESUMEd. */
  async dropConnection(timeoutMs = 10_000): Promise<void> {
    const live = [...this.sessions.values()].filter((s) => s.ws);
    if (live.length === 0) throw new Error('no gateway connection to drop');
    const resumed = live.map(
      (session) =>
        new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('the bot did not RESUME after a dropped connection')), timeoutMs);
          session.resumeWaiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        }),
    );
    for (const session of live) {
      session.ws?.terminate();
      session.ws = undefined;
    }
    await Promise.all(resumed);
  }

  /** Forgets all sessions and tells connected bots their session is invalid (they must IDENTIFY again). */
  invalidateSessions(): void {
    for (const session of this.sessions.values()) {
      session.ws?.send(JSON.stringify({ op: GatewayOpcodes.InvalidSession, d: false }));
    }
    this.sessions.clear();
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
    if (this.sessions.size === 0) throw new Error('no bot is connected to the gateway');
    const message = newMessage({ channelId: channel.id, author: user, input: { content }, files: [] });
    message.mentions = [...content.matchAll(/<@!?(\d+)>/g)].map((m) => this.users.get(m[1]!)).filter((u): u is EmuUser => u !== undefined).map(toApiUser);
    message.mention_roles = [...content.matchAll(/<@&(\d+)>/g)].map((m) => m[1]!).filter((id) => this.guild.roles.has(id));
    this.messages.push(message);
    this.messageIndex.set(message.id, message);
    this.dispatchMessageCreate(message);
    return message;
  }

  /** Adds a user to a thread, as joining it (or being mentioned into a private one) does. */
  joinThread(user: EmuUser, thread: EmuChannel): void {
    if (!thread.threadMemberIds) throw new Error(`#${thread.name} is not a thread`);
    thread.threadMemberIds.add(user.id);
    this.threadMembers.push({ threadId: thread.id, userId: user.id });
  }

  /**
   * Sends MESSAGE_CREATE for a stored message to every session whose intents cover it. Public so tests can deliver the
   * same message twice (Discord may replay events).
   */
  dispatchMessageCreate(message: EmuMessage): void {
    const channel = this.channels.get(message.channel_id);
    const inGuild = channel !== undefined && channel.guildId !== null;
    const member = inGuild ? this.guild.members.get(message.author.id) : undefined;
    const api = toApiMessage(message);
    const full = {
      ...api,
      ...(inGuild ? { guild_id: channel.guildId } : {}),
      ...(member ? { member: withoutUser(toApiMember(member, this.users)) } : {}),
    };
    // Without MessageContent, Discord blanks these except in DMs, the bot's own messages and messages mentioning it.
    const contentExempt = !inGuild || message.author.id === this.bot.id || message.mentions.some((u) => u.id === this.bot.id);
    const blanked = { ...full, content: '', embeds: [], attachments: [], components: [] } satisfies Partial<APIMessage>;
    const needed = inGuild ? GatewayIntentBits.GuildMessages : GatewayIntentBits.DirectMessages;
    for (const session of this.sessions.values()) {
      if ((session.intents & needed) === 0) continue;
      const withContent = contentExempt || (session.intents & GatewayIntentBits.MessageContent) !== 0;
      this.sendDispatch(session, GatewayDispatchEvents.MessageCreate, withContent ? full : blanked);
    }
  }

  /** A channel or thread by `<#id>`, id or name (with or without '#'); undefined when there is none. */
  findChannel(ref: string): EmuChannel | undefined {
    return this.channelByRef(ref);
  }

  // ---------------------------------------------------------------- driver: interactions

  /** Runs a slash command, e.g. `runCommand(alice, '/wallet link')` or `runCommand(bob, '/tip', { user: alice, amount: 1.5 })`. */
  runCommand(user: EmuUser, command: string, options: Record<string, OptionValue> = {}, opts: InteractionOptions = {}): InteractionResult {
    const { def, path } = this.findCommand(user, command, opts);
    const resolved: APIInteractionDataResolved = {};
    const built = this.buildOptions(def, path, options, resolved, undefined);
    return this.sendInteraction(user, opts, {
      type: InteractionType.ApplicationCommand,
      data: {
        id: def.id,
        name: def.name,
        type: ApplicationCommandType.ChatInput,
        ...(def.guild_id ? { guild_id: def.guild_id } : {}),
        ...(built.length ? { options: built } : {}),
        ...(Object.keys(resolved).length ? { resolved } : {}),
      },
    });
  }

  /** Sends an autocomplete interaction with `focused` as the option being typed. */
  autocomplete(user: EmuUser, command: string, options: Record<string, OptionValue>, focused: string, opts: InteractionOptions = {}): InteractionResult {
    const { def, path } = this.findCommand(user, command, opts);
    const built = this.buildOptions(def, path, options, {}, focused);
    return this.sendInteraction(user, opts, {
      type: InteractionType.ApplicationCommandAutocomplete,
      data: { id: def.id, name: def.name, type: ApplicationCommandType.ChatInput, options: built },
    });
  }

  click(user: EmuUser, message: EmuMessage, customId: string): InteractionResult {
    const component = this.findComponent(message, customId);
    if (component.type !== ComponentType.Button) throw new Error(`component ${customId} is not a button`);
    if (component.disabled) throw new Error(`button ${customId} is disabled`);
    return this.sendComponent(user, message, { custom_id: customId, component_type: ComponentType.Button });
  }

  /**
   * A modified client pressing a button with a custom id the message does not carry (custom ids are not secret):
   * for tests that handlers re-check authority instead of trusting who was shown the button.
   */
  forgeClick(user: EmuUser, message: EmuMessage, customId: string): InteractionResult {
    return this.sendComponent(user, message, { custom_id: customId, component_type: ComponentType.Button });
  }

  select(user: EmuUser, message: EmuMessage, customId: string, values: string[]): InteractionResult {
    const component = this.findComponent(message, customId);
    if (component.type === ComponentType.Button) throw new Error(`component ${customId} is a button, not a select`);
    if (component.type === ComponentType.StringSelect) {
      const allowed = new Set(component.options.map((o) => o.value));
      const bad = values.filter((v) => !allowed.has(v));
      if (bad.length) throw new Error(`select ${customId} has no option(s) ${bad.join(', ')}`);
    }
    const resolved: APIInteractionDataResolved = {};
    if (component.type === ComponentType.UserSelect) {
      resolved.users = Object.fromEntries(values.map((id) => [id, toApiUser(this.mustUser(id))]));
    }
    if (component.type === ComponentType.RoleSelect) {
      resolved.roles = Object.fromEntries(values.map((id) => [id, toApiRole(this.mustRole(id))]));
    }
    return this.sendComponent(user, message, {
      custom_id: customId,
      component_type: component.type,
      values,
      ...(Object.keys(resolved).length ? { resolved } : {}),
    });
  }

  /** Submits the modal the bot showed in answer to `shownBy`. */
  submitModal(user: EmuUser, shownBy: InteractionResult, customId: string, fields: Record<string, string>): InteractionResult {
    const modal = shownBy.shownModal;
    if (!modal) throw new Error('that interaction did not show a modal');
    if (modal.custom_id !== customId) throw new Error(`the modal shown is "${modal.custom_id}", not "${customId}"`);
    const inputIds = modalInputIds(modal);
    for (const key of Object.keys(fields)) {
      if (!inputIds.has(key)) throw new Error(`modal ${customId} has no field "${key}" (has: ${[...inputIds].join(', ')})`);
    }
    const components = [...inputIds].map((id) => ({
      type: ComponentType.ActionRow,
      components: [{ type: ComponentType.TextInput, custom_id: id, value: fields[id] ?? '' }],
    }));
    const source = shownBy.record.sourceMessage;
    return this.sendInteraction(user, { channel: shownBy.record.channelId }, {
      type: InteractionType.ModalSubmit,
      data: { custom_id: customId, components },
      ...(source ? { message: toApiMessage(source) } : {}),
    }, source);
  }

  // ---------------------------------------------------------------- interactions: building

  private findCommand(user: EmuUser, command: string, opts: InteractionOptions): { def: APIApplicationCommand; path: string[] } {
    const [rawName, ...path] = command.trim().replace(/^\//, '').split(/\s+/);
    const name = rawName ?? '';
    const guildDefs = opts.dm ? [] : (this.guildCommands.get(this.guild.id) ?? []);
    const def = guildDefs.find((c) => c.name === name) ?? this.globalCommands.find((c) => c.name === name);
    if (!def) {
      const known = [...guildDefs, ...this.globalCommands].map((c) => `/${c.name}`).join(', ') || 'none';
      throw new Error(`command /${name} is not registered (registered: ${known})`);
    }
    // Discord's client never offers these, so a test doing it is testing something users cannot do.
    if (opts.dm && def.contexts && !def.contexts.includes(InteractionContextType.BotDM)) {
      throw new Error(`/${name} is not available in DMs (contexts ${def.contexts.join(',')})`);
    }
    const member = opts.dm ? undefined : this.guild.members.get(user.id);
    if (member && def.default_member_permissions) {
      const needed = BigInt(def.default_member_permissions);
      if ((memberPermissions(this.guild, member) & needed) !== needed) {
        throw new Error(`${user.username} lacks default_member_permissions ${needed} for /${name}; Discord hides it from them`);
      }
    }
    return { def, path };
  }

  private buildOptions(
    def: APIApplicationCommand,
    path: string[],
    values: Record<string, OptionValue>,
    resolved: APIInteractionDataResolved,
    focused: string | undefined,
  ): unknown[] {
    let defs: APIApplicationCommandOption[] = def.options ?? [];
    const wrappers: Array<{ type: ApplicationCommandOptionType; name: string }> = [];
    for (const word of path) {
      const sub = defs.find(
        (o) => o.name === word && (o.type === ApplicationCommandOptionType.Subcommand || o.type === ApplicationCommandOptionType.SubcommandGroup),
      );
      if (!sub || !('options' in sub)) throw new Error(`/${def.name} has no subcommand "${word}"`);
      wrappers.push({ type: sub.type, name: sub.name });
      defs = (sub.options ?? []) as APIApplicationCommandOption[];
    }
    if (defs.some((o) => o.type === ApplicationCommandOptionType.Subcommand || o.type === ApplicationCommandOptionType.SubcommandGroup)) {
      throw new Error(`/${[def.name, ...path].join(' ')} needs a subcommand: ${defs.map((o) => o.name).join(', ')}`);
    }
    const leaf: unknown[] = [];
    for (const [name, raw] of Object.entries(values)) {
      const optDef = defs.find((o) => o.name === name);
      if (!optDef) throw new Error(`/${[def.name, ...path].join(' ')} has no option "${name}" (has: ${defs.map((o) => o.name).join(', ') || 'none'})`);
      const isFocused = focused === name;
      const value = isFocused ? String(raw) : this.convertOption(optDef, raw, resolved);
      leaf.push({ name, type: optDef.type, value, ...(isFocused ? { focused: true } : {}) });
    }
    if (focused === undefined) {
      for (const o of defs) {
        if ('required' in o && o.required && !(o.name in values)) throw new Error(`option "${o.name}" is required`);
      }
    }
    let result: unknown[] = leaf;
    for (const w of wrappers.reverse()) result = [{ type: w.type, name: w.name, options: result }];
    return result;
  }

  private convertOption(def: APIApplicationCommandOption, raw: OptionValue, resolved: APIInteractionDataResolved): unknown {
    const fail = (why: string) => new Error(`option "${def.name}": ${why}`);
    const checkChoices = (value: string | number) => {
      const choices = 'choices' in def ? def.choices : undefined;
      if (choices?.length && !choices.some((c) => c.value === value)) {
        throw fail(`${value} is not one of ${choices.map((c) => c.value).join(', ')}`);
      }
      return value;
    };
    switch (def.type) {
      case ApplicationCommandOptionType.String:
        return checkChoices(String(raw));
      case ApplicationCommandOptionType.Integer:
      case ApplicationCommandOptionType.Number: {
        const n = typeof raw === 'number' ? raw : Number(raw);
        if (!Number.isFinite(n)) throw fail(`${String(raw)} is not a number`);
        if (def.type === ApplicationCommandOptionType.Integer && !Number.isInteger(n)) throw fail(`${n} is not an integer`);
        if (def.min_value !== undefined && n < def.min_value) throw fail(`${n} < min ${def.min_value}`);
        if (def.max_value !== undefined && n > def.max_value) throw fail(`${n} > max ${def.max_value}`);
        return checkChoices(n);
      }
      case ApplicationCommandOptionType.Boolean:
        if (typeof raw === 'boolean') return raw;
        if (raw === 'true' || raw === 'false') return raw === 'true';
        throw fail(`${String(raw)} is not a boolean`);
      case ApplicationCommandOptionType.User:
      case ApplicationCommandOptionType.Mentionable: {
        const user = this.asUser(raw);
        if (user) {
          (resolved.users ??= {})[user.id] = toApiUser(user);
          const member = this.guild.members.get(user.id);
          if (member) {
            const { user: _u, ...rest } = toApiMember(member, this.users);
            (resolved.members ??= {})[user.id] = { ...rest, permissions: memberPermissions(this.guild, member).toString() };
          }
          return user.id;
        }
        if (def.type === ApplicationCommandOptionType.User) throw fail(`no user ${describeValue(raw)}`);
        const role = this.asRole(raw);
        if (!role) throw fail(`no user or role ${describeValue(raw)}`);
        (resolved.roles ??= {})[role.id] = toApiRole(role);
        return role.id;
      }
      case ApplicationCommandOptionType.Role: {
        const role = this.asRole(raw);
        if (!role) throw fail(`no role ${describeValue(raw)}`);
        (resolved.roles ??= {})[role.id] = toApiRole(role);
        return role.id;
      }
      case ApplicationCommandOptionType.Channel: {
        const channel = typeof raw === 'object' && 'type' in raw ? raw : typeof raw === 'string' ? this.channelByRef(raw) : undefined;
        if (!channel) throw fail(`no channel ${describeValue(raw)}`);
        (resolved.channels ??= {})[channel.id] = { ...toApiChannel(channel, this.users), permissions: ALL_PERMISSIONS.toString() } as never;
        return channel.id;
      }
      case ApplicationCommandOptionType.Attachment: {
        if (typeof raw !== 'object' || !('data' in raw)) throw fail('expects { name, data }');
        const id = snowflake();
        const data = typeof raw.data === 'string' ? Buffer.from(raw.data) : raw.data;
        (resolved.attachments ??= {})[id] = {
          id,
          filename: raw.name,
          size: data.length,
          url: `${this.url}/attachments/${id}/${raw.name}`,
          proxy_url: `${this.url}/attachments/${id}/${raw.name}`,
          ...(raw.contentType ? { content_type: raw.contentType } : {}),
        };
        this.uploads.set(id, { id, name: raw.name, contentType: raw.contentType, data });
        return id;
      }
      default:
        throw fail(`unsupported option type ${def.type}`);
    }
  }

  /** Files users attached to commands; served at /attachments/:id/:name so the bot can download them. */
  private readonly uploads = new Map<string, EmuFile>();

  private asUser(raw: OptionValue): EmuUser | undefined {
    if (typeof raw === 'object') return 'username' in raw ? raw : undefined;
    return typeof raw === 'string' ? this.findUser(raw) : undefined;
  }

  private asRole(raw: OptionValue): EmuRole | undefined {
    if (typeof raw === 'object') return 'permissions' in raw ? raw : undefined;
    if (typeof raw !== 'string') return undefined;
    const key = /^<@&(\d+)>$/.exec(raw)?.[1] ?? raw.replace(/^@/, '');
    return this.guild.roles.get(key) ?? [...this.guild.roles.values()].find((r) => r.name === key);
  }

  private channelByRef(ref: string): EmuChannel | undefined {
    const key = /^<#(\d+)>$/.exec(ref)?.[1] ?? ref.replace(/^#/, '');
    return this.channels.get(key) ?? [...this.channels.values()].find((c) => c.name === key && c.guildId === this.guild.id);
  }

  private mustUser(id: string): EmuUser {
    const user = this.findUser(id);
    if (!user) throw new Error(`no user ${id}`);
    return user;
  }

  private mustRole(id: string): EmuRole {
    const role = this.asRole(id);
    if (!role) throw new Error(`no role ${id}`);
    return role;
  }

  private findComponent(message: EmuMessage, customId: string): APIComponentInMessageActionRow {
    for (const row of message.components ?? []) {
      if (row.type !== ComponentType.ActionRow) continue;
      for (const c of (row as APIActionRowComponent<APIComponentInMessageActionRow>).components) {
        if ('custom_id' in c && c.custom_id === customId) return c;
      }
    }
    throw new Error(`message ${message.id} has no component "${customId}"`);
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

  private dmChannelFor(user: EmuUser): EmuChannel {
    let channel = [...this.channels.values()].find((c) => c.type === ChannelType.DM && c.recipientId === user.id);
    if (!channel) {
      channel = { id: snowflake(), type: ChannelType.DM, name: '', guildId: null, parentId: null, recipientId: user.id };
      this.channels.set(channel.id, channel);
    }
    return channel;
  }

  private sendInteraction(
    user: EmuUser,
    opts: InteractionOptions,
    body: { type: InteractionType; data: unknown; message?: unknown },
    sourceMessage?: EmuMessage,
  ): InteractionResult {
    // A session whose socket just dropped still counts: the event is buffered and replayed on RESUME.
    if (this.sessions.size === 0) throw new Error('no bot is connected to the gateway');
    const channel = opts.dm
      ? this.dmChannelFor(user)
      : typeof opts.channel === 'object'
        ? opts.channel
        : opts.channel
          ? (this.channels.get(opts.channel) ?? this.channel(opts.channel))
          : this.channel('general');
    const inGuild = channel.guildId !== null;
    // The channel decides the guild: a button pressed on another guild's message comes from that guild.
    const guild = (channel.guildId !== null ? this.guilds.get(channel.guildId) : undefined) ?? this.guild;
    const member = inGuild ? guild.members.get(user.id) : undefined;
    if (inGuild && !member) throw new Error(`${user.username} is not a member of ${guild.name}`);
    const id = snowflake();
    const token = `itok.${randomToken(20)}`;
    const apiChannel = toApiChannel(channel, this.users);
    const payload = {
      id,
      application_id: this.appId,
      token,
      version: 1,
      type: body.type,
      data: body.data,
      ...(body.message ? { message: body.message } : {}),
      channel: apiChannel,
      channel_id: channel.id,
      app_permissions: ALL_PERMISSIONS.toString(),
      locale: opts.locale ?? 'en-US',
      entitlements: [],
      attachment_size_limit: 10 * 1024 * 1024,
      ...(inGuild && member
        ? {
            guild_id: guild.id,
            guild: { id: guild.id, locale: 'en-US', features: [] },
            guild_locale: 'en-US',
            member: { ...toApiMember(member, this.users), permissions: memberPermissions(guild, member).toString() } satisfies APIInteractionGuildMember,
            authorizing_integration_owners: { '0': guild.id },
            context: InteractionContextType.Guild,
          }
        : {
            user: toApiUser(user),
            authorizing_integration_owners: { '0': guild.id },
            context: InteractionContextType.BotDM,
          }),
    } as unknown as APIInteraction;
    const record: InteractionRecord = {
      id,
      token,
      payload,
      user,
      channelId: channel.id,
      guildId: inGuild ? guild.id : null,
      dispatchedAt: performance.now(),
      followUps: [],
      listeners: new Set(),
      ...(sourceMessage ? { sourceMessage } : {}),
    };
    this.interactions.set(token, record);
    this.dispatch(GatewayDispatchEvents.InteractionCreate, payload);
    return new InteractionResult(record);
  }

  // ---------------------------------------------------------------- gateway

  private onGatewayConnection(ws: WebSocket): void {
    this.sockets.add(ws);
    let session: GatewaySession | undefined;
    ws.on('close', () => {
      this.sockets.delete(ws);
      if (session?.ws === ws) session.ws = undefined;
    });
    ws.on('error', () => undefined);
    ws.send(JSON.stringify({ op: GatewayOpcodes.Hello, d: { heartbeat_interval: this.heartbeatIntervalMs }, s: null, t: null }));
    ws.on('message', (raw) => {
      let packet: GatewayCommand;
      try {
        packet = JSON.parse(raw.toString()) as GatewayCommand;
      } catch {
        ws.close(4002, 'Decode error');
        return;
      }
      switch (packet.op) {
        case GatewayOpcodes.Heartbeat:
          this.gatewayStats.heartbeats++;
          ws.send(JSON.stringify({ op: GatewayOpcodes.HeartbeatAck, d: null, s: null, t: null }));
          return;
        case GatewayOpcodes.Identify: {
          if (packet.d?.token !== this.token && packet.d?.token !== `Bot ${this.token}`) {
            ws.close(4004, 'Authentication failed');
            return;
          }
          this.gatewayStats.identifies++;
          session = { id: randomToken(16), intents: Number(packet.d?.intents ?? 0), seq: 0, buffer: [], ws, resumeWaiters: [] };
          this.sessions.set(session.id, session);
          this.sendDispatch(session, GatewayDispatchEvents.Ready, {
            v: 10,
            user: { ...toApiUser(this.bot), verified: true, mfa_enabled: false, flags: 0 },
            guilds: [...this.guilds.values()].map((g) => ({ id: g.id, unavailable: true })),
            session_id: session.id,
            resume_gateway_url: this.gatewayUrl,
            shard: packet.d?.shard ?? [0, 1],
            application: { id: this.appId, flags: 0 },
          });
          for (const guild of this.guilds.values()) this.sendDispatch(session, GatewayDispatchEvents.GuildCreate, this.guildPayload(guild));
          const waiters = this.readyWaiters;
          this.readyWaiters = [];
          for (const w of waiters) w();
          return;
        }
        case GatewayOpcodes.Resume: {
          const found = this.sessions.get(packet.d?.session_id ?? '');
          if (!found || packet.d?.token?.replace(/^Bot /, '') !== this.token) {
            ws.send(JSON.stringify({ op: GatewayOpcodes.InvalidSession, d: false, s: null, t: null }));
            return;
          }
          this.gatewayStats.resumes++;
          session = found;
          found.ws = ws;
          const since = Number(packet.d?.seq ?? 0);
          for (const event of found.buffer) {
            if (event.s > since) ws.send(JSON.stringify({ op: GatewayOpcodes.Dispatch, ...event }));
          }
          this.sendDispatch(found, GatewayDispatchEvents.Resumed, {});
          const waiters = found.resumeWaiters;
          found.resumeWaiters = [];
          for (const w of waiters) w();
          return;
        }
        case GatewayOpcodes.PresenceUpdate:
        case GatewayOpcodes.RequestGuildMembers:
          this.onGatewayCommand(session, packet);
          return;
        default:
          this.failures.push({ method: 'GATEWAY', path: `op ${packet.op}`, status: 0, reason: 'unhandled gateway opcode' });
          ws.close(4001, 'Unknown opcode');
      }
    });
  }

  private onGatewayCommand(session: GatewaySession | undefined, packet: GatewayCommand): void {
    if (!session || packet.op !== GatewayOpcodes.RequestGuildMembers) return;
    const guild = this.guilds.get(packet.d?.guild_id ?? '');
    if (!guild) return;
    const ids = packet.d?.user_ids;
    const wanted = ids === undefined ? undefined : typeof ids === 'string' ? [ids] : ids;
    const members = [...guild.members.values()].filter((m) => !wanted || wanted.includes(m.userId));
    this.sendDispatch(session, GatewayDispatchEvents.GuildMembersChunk, {
      guild_id: guild.id,
      members: members.map((m) => toApiMember(m, this.users)),
      chunk_index: 0,
      chunk_count: 1,
      not_found: wanted ? wanted.filter((id) => !guild.members.has(id)) : [],
      ...(packet.d?.nonce ? { nonce: packet.d.nonce } : {}),
    });
  }

  private guildPayload(guild: EmuGuild): unknown {
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

  /** Sends an event to every session; disconnected sessions buffer it for RESUME replay. */
  dispatch(t: string, d: unknown): void {
    for (const session of this.sessions.values()) this.sendDispatch(session, t, d);
  }

  private sendDispatch(session: GatewaySession, t: string, d: unknown): void {
    const s = ++session.seq;
    session.buffer.push({ s, t, d });
    if (session.buffer.length > REPLAY_BUFFER) session.buffer.shift();
    const packet = { op: GatewayOpcodes.Dispatch, s, t, d } as GatewayReceivePayload;
    session.ws?.send(JSON.stringify(packet));
  }

  // ---------------------------------------------------------------- REST

  private route(method: string, pattern: string, handler: Handler, auth = true): void {
    this.routes.push({ method, segments: pattern.split('/').filter(Boolean), auth, handler });
  }

  private async handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = req.method ?? 'GET';
    const rawPath = url.pathname;
    let status = 500;
    let body: ParsedBody = { json: undefined, files: [] };
    try {
      body = await readBody(req);
      if (method === 'GET' && rawPath.startsWith('/attachments/')) {
        const file = this.uploads.get(rawPath.split('/')[2] ?? '');
        if (!file) throw new DiscordApiError(404, 0, '404: Not Found');
        status = 200;
        res.writeHead(200, { 'content-type': file.contentType ?? 'application/octet-stream' }).end(file.data);
        return;
      }
      if (!rawPath.startsWith('/api/v10/')) throw new DiscordApiError(404, 0, '404: Not Found', true);
      const segments = rawPath.slice('/api/v10/'.length).split('/').filter(Boolean).map((s) => decodeURIComponent(s));
      const match = this.matchRoute(method, segments);
      if (!match) throw new DiscordApiError(404, 0, '404: Not Found', true);
      if (match.route.auth && req.headers.authorization !== `Bot ${this.token}`) {
        throw new DiscordApiError(401, 0, '401: Unauthorized', true);
      }
      const ctx: RouteContext = { req, res, params: match.params, query: url.searchParams, body, path: rawPath };
      await match.route.handler(ctx);
      status = res.statusCode;
    } catch (err) {
      const apiErr = err instanceof DiscordApiError ? err : new DiscordApiError(500, 0, err instanceof Error ? err.message : String(err), true);
      status = apiErr.status;
      if (apiErr.isFailure) {
        this.failures.push({ method, path: rawPath, status, reason: apiErr.message });
      }
      if (!res.headersSent) sendJson(res, status, { message: apiErr.message, code: apiErr.code });
    } finally {
      this.requests.push({ method, path: rawPath, status, body: body.json, at: Date.now() });
    }
  }

  private matchRoute(method: string, segments: string[]): { route: Route; params: Record<string, string> } | undefined {
    for (const route of this.routes) {
      if (route.method !== method || route.segments.length !== segments.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < segments.length && ok; i++) {
        const want = route.segments[i] ?? '';
        const got = segments[i] ?? '';
        if (want.startsWith(':')) params[want.slice(1)] = got;
        else ok = want === got;
      }
      if (ok) return { route, params };
    }
    return undefined;
  }

  private registerRoutes(): void {
    const gatewayInfo = () => ({
      url: this.gatewayUrl,
      shards: 1,
      session_start_limit: { total: 1000, remaining: 1000, reset_after: 0, max_concurrency: 1 },
    });
    this.route('GET', 'gateway', ({ res }) => sendJson(res, 200, { url: this.gatewayUrl }), false);
    this.route('GET', 'gateway/bot', ({ res }) => sendJson(res, 200, gatewayInfo()));
    this.route('GET', 'users/@me', ({ res }) => sendJson(res, 200, toApiUser(this.bot)));
    this.route('GET', 'users/:userId', ({ res, params }) => {
      const user = this.users.get(params.userId ?? '');
      if (!user) throw new DiscordApiError(404, 10013, 'Unknown User');
      sendJson(res, 200, toApiUser(user));
    });
    this.route('GET', 'applications/@me', ({ res }) =>
      sendJson(res, 200, { id: this.appId, name: this.bot.username, description: '', bot_public: true, bot_require_code_grant: false, flags: 0, icon: null, verify_key: '0'.repeat(64), team: null, summary: '' }),
    );

    // Application commands.
    const upsert = (existing: APIApplicationCommand[], incoming: CommandBody[], guildId?: string): APIApplicationCommand[] =>
      incoming.map((c) => ({
        type: ApplicationCommandType.ChatInput,
        description: '',
        default_member_permissions: null,
        nsfw: false,
        contexts: null,
        integration_types: [0],
        ...c,
        id: existing.find((e) => e.name === c.name)?.id ?? snowflake(),
        application_id: this.appId,
        version: snowflake(),
        ...(guildId ? { guild_id: guildId } : {}),
      }) as unknown as APIApplicationCommand);
    this.route('PUT', 'applications/:appId/commands', ({ res, body, params }) => {
      this.checkApp(params.appId);
      this.globalCommands = upsert(this.globalCommands, asArray(body.json));
      sendJson(res, 200, this.globalCommands);
    });
    this.route('GET', 'applications/:appId/commands', ({ res, params }) => {
      this.checkApp(params.appId);
      sendJson(res, 200, this.globalCommands);
    });
    this.route('POST', 'applications/:appId/commands', ({ res, body, params }) => {
      this.checkApp(params.appId);
      const [created] = upsert(this.globalCommands, [body.json as CommandBody]);
      this.globalCommands = [...this.globalCommands.filter((c) => c.name !== created?.name), created!];
      sendJson(res, 201, created);
    });
    this.route('PUT', 'applications/:appId/guilds/:guildId/commands', ({ res, body, params }) => {
      this.checkApp(params.appId);
      const guildId = this.mustGuild(params.guildId).id;
      const next = upsert(this.guildCommands.get(guildId) ?? [], asArray(body.json), guildId);
      this.guildCommands.set(guildId, next);
      sendJson(res, 200, next);
    });
    this.route('GET', 'applications/:appId/guilds/:guildId/commands', ({ res, params }) => {
      this.checkApp(params.appId);
      sendJson(res, 200, this.guildCommands.get(this.mustGuild(params.guildId).id) ?? []);
    });

    // Interaction callbacks and the interaction webhook.
    this.route('POST', 'interactions/:id/:token/callback', (ctx) => this.onCallback(ctx), false);
    this.route('GET', 'webhooks/:appId/:token/messages/:messageId', ({ res, params }) => {
      const { message } = this.webhookMessage(params);
      sendJson(res, 200, toApiMessage(message));
    }, false);
    this.route('PATCH', 'webhooks/:appId/:token/messages/:messageId', ({ res, params, body }) => {
      const { record, message } = this.webhookMessage(params);
      editMessage(message, body.json as MessageInput, body.files);
      if (params.messageId === '@original' && !record.visible) record.visible = message;
      notify(record);
      sendJson(res, 200, toApiMessage(message));
    }, false);
    this.route('DELETE', 'webhooks/:appId/:token/messages/:messageId', ({ res, params }) => {
      const { record, message } = this.webhookMessage(params);
      message.deleted = true;
      notify(record);
      noContent(res);
    }, false);
    this.route('POST', 'webhooks/:appId/:token', ({ res, params, body }) => {
      const record = this.mustInteraction(params.token, params.appId);
      if (record.responseType === undefined) throw new DiscordApiError(404, 10015, 'Unknown Webhook', true);
      const input = body.json as MessageInput;
      const placeholder = record.original;
      if (
        record.responseType === InteractionResponseType.DeferredChannelMessageWithSource &&
        placeholder &&
        ((placeholder.flags ?? 0) & MessageFlags.Loading) !== 0
      ) {
        // Like Discord: the first follow-up after a deferral resolves the "thinking…" message in place, and its
        // visibility is the one chosen at deferral (a follow-up's ephemeral flag is ignored here).
        editMessage(placeholder, input, body.files);
        record.followUps.push(placeholder);
        record.visible ??= placeholder;
        notify(record);
        sendJson(res, 200, toApiMessage(placeholder));
        return;
      }
      const message = this.storeMessage(record.channelId, input, body.files, {
        interactionToken: record.token,
        visibleTo: record.user.id,
        type: MessageType.Default,
      });
      record.followUps.push(message);
      if (!record.visible) record.visible = message;
      notify(record);
      sendJson(res, 200, toApiMessage(message));
    }, false);

    // Channels and messages.
    this.route('GET', 'channels/:channelId', ({ res, params }) => sendJson(res, 200, toApiChannel(this.mustChannel(params.channelId), this.users)));
    this.route('PATCH', 'channels/:channelId', ({ res, params, body }) => {
      const channel = this.mustChannel(params.channelId);
      const patch = (body.json ?? {}) as { name?: string; archived?: boolean; locked?: boolean; auto_archive_duration?: number };
      if (patch.name !== undefined) channel.name = patch.name;
      if (patch.archived !== undefined) channel.archived = patch.archived;
      if (patch.locked !== undefined) channel.locked = patch.locked;
      if (patch.auto_archive_duration !== undefined) channel.autoArchiveDuration = patch.auto_archive_duration;
      const api = toApiChannel(channel, this.users);
      const isThread = channel.type === ChannelType.PublicThread || channel.type === ChannelType.PrivateThread;
      this.dispatch(isThread ? GatewayDispatchEvents.ThreadUpdate : GatewayDispatchEvents.ChannelUpdate, api);
      sendJson(res, 200, api);
    });
    this.route('POST', 'channels/:channelId/messages', ({ res, params, body }) => {
      const channel = this.mustChannel(params.channelId);
      if (channel.archived) throw new DiscordApiError(400, 50083, 'Thread is archived');
      const message = this.storeMessage(channel.id, body.json as MessageInput, body.files, {});
      sendJson(res, 200, toApiMessage(message));
      // Discord echoes a bot's own channel messages to it over the gateway too.
      this.dispatchMessageCreate(message);
    });
    this.route('GET', 'channels/:channelId/messages', ({ res, params, query }) => {
      const channel = this.mustChannel(params.channelId);
      const limit = Math.min(Number(query.get('limit') ?? 50), 100);
      const list = this.messages.filter((m) => m.channel_id === channel.id && !m.deleted && !m.ephemeral).reverse().slice(0, limit);
      sendJson(res, 200, list.map(toApiMessage));
    });
    this.route('GET', 'channels/:channelId/messages/:messageId', ({ res, params }) => {
      sendJson(res, 200, toApiMessage(this.mustMessage(params.channelId, params.messageId)));
    });
    this.route('PATCH', 'channels/:channelId/messages/:messageId', ({ res, params, body }) => {
      const message = this.mustMessage(params.channelId, params.messageId);
      if (message.author.id !== this.bot.id) throw new DiscordApiError(403, 50005, 'Cannot edit a message authored by another user', true);
      editMessage(message, body.json as MessageInput, body.files);
      sendJson(res, 200, toApiMessage(message));
    });
    this.route('DELETE', 'channels/:channelId/messages/:messageId', ({ res, params }) => {
      this.mustMessage(params.channelId, params.messageId).deleted = true;
      noContent(res);
    });
    this.route('POST', 'users/@me/channels', ({ res, body }) => {
      const recipientId = (body.json as { recipient_id?: string } | undefined)?.recipient_id ?? '';
      const user = this.users.get(recipientId);
      if (!user) throw new DiscordApiError(404, 10013, 'Unknown User');
      sendJson(res, 200, toApiChannel(this.dmChannelFor(user), this.users));
    });
    this.route('POST', 'channels/:channelId/threads', ({ res, params, body }) => {
      const parent = this.mustChannel(params.channelId);
      if (parent.type !== ChannelType.GuildText) throw new DiscordApiError(400, 50024, 'Cannot execute action on this channel type');
      const input = (body.json ?? {}) as { name?: string; type?: number; auto_archive_duration?: number };
      const thread: EmuChannel = {
        id: snowflake(),
        type: input.type === ChannelType.PrivateThread ? ChannelType.PrivateThread : ChannelType.PublicThread,
        name: input.name ?? 'thread',
        guildId: parent.guildId,
        parentId: parent.id,
        ownerId: this.bot.id,
        archived: false,
        locked: false,
        autoArchiveDuration: input.auto_archive_duration ?? 1440,
        threadMemberIds: new Set([this.bot.id]),
      };
      this.channels.set(thread.id, thread);
      this.guilds.get(parent.guildId ?? '')?.channelIds.push(thread.id);
      const api = toApiChannel(thread, this.users);
      this.dispatch(GatewayDispatchEvents.ThreadCreate, { ...api, newly_created: true });
      sendJson(res, 201, api);
    });
    this.route('PUT', 'channels/:channelId/thread-members/:userId', ({ res, params }) => {
      const thread = this.mustChannel(params.channelId);
      if (!thread.threadMemberIds) throw new DiscordApiError(400, 50024, 'Cannot execute action on this channel type');
      const user = this.users.get(params.userId ?? '');
      if (!user) throw new DiscordApiError(404, 10013, 'Unknown User');
      thread.threadMemberIds.add(user.id);
      this.threadMembers.push({ threadId: thread.id, userId: user.id });
      noContent(res);
    });

    // Guilds, roles and members.
    this.route('GET', 'guilds/:guildId', ({ res, params }) => sendJson(res, 200, this.guildPayload(this.mustGuild(params.guildId))));
    this.route('GET', 'guilds/:guildId/roles', ({ res, params }) => sendJson(res, 200, [...this.mustGuild(params.guildId).roles.values()].map(toApiRole)));
    this.route('GET', 'guilds/:guildId/channels', ({ res, params }) => {
      const guild = this.mustGuild(params.guildId);
      const list = guild.channelIds.map((id) => this.channels.get(id)).filter((c): c is EmuChannel => c?.type === ChannelType.GuildText);
      sendJson(res, 200, list.map((c) => toApiChannel(c, this.users)));
    });
    this.route('GET', 'guilds/:guildId/members', ({ res, params, query }) => {
      const guild = this.mustGuild(params.guildId);
      const after = query.get('after') ?? '0';
      const limit = Math.min(Number(query.get('limit') ?? 1), 1000);
      const list = [...guild.members.values()].filter((m) => BigInt(m.userId) > BigInt(after)).sort((a, b) => (BigInt(a.userId) < BigInt(b.userId) ? -1 : 1)).slice(0, limit);
      sendJson(res, 200, list.map((m) => toApiMember(m, this.users)));
    });
    this.route('GET', 'guilds/:guildId/members/:userId', ({ res, params }) => {
      sendJson(res, 200, toApiMember(this.mustMember(params.guildId, params.userId), this.users));
    });
    const roleChange = (action: 'add' | 'remove') => ({ res, params }: RouteContext) => {
      const guild = this.mustGuild(params.guildId);
      const member = this.mustMember(params.guildId, params.userId);
      const role = guild.roles.get(params.roleId ?? '');
      if (!role) throw new DiscordApiError(404, 10011, 'Unknown Role');
      if (action === 'add') member.roleIds.add(role.id);
      else member.roleIds.delete(role.id);
      this.roleChanges.push({ guildId: guild.id, userId: member.userId, roleId: role.id, action });
      this.dispatch(GatewayDispatchEvents.GuildMemberUpdate, { guild_id: guild.id, ...toApiMember(member, this.users) });
      noContent(res);
    };
    this.route('PUT', 'guilds/:guildId/members/:userId/roles/:roleId', roleChange('add'));
    this.route('DELETE', 'guilds/:guildId/members/:userId/roles/:roleId', roleChange('remove'));
  }

  private onCallback({ res, params, body, query }: RouteContext): void {
    const record = this.interactions.get(params.token ?? '');
    if (!record || record.id !== params.id) throw new DiscordApiError(404, 10062, 'Unknown interaction', true);
    if (record.responseType !== undefined) throw new DiscordApiError(400, 40060, 'Interaction has already been acknowledged.', true);
    const callback = (body.json ?? {}) as {
      type: InteractionResponseType;
      data?: MessageInput & { choices?: APIApplicationCommandOptionChoice[] };
    };
    const data = callback.data ?? {};
    const isComponent = record.payload.type === InteractionType.MessageComponent || (record.payload.type === InteractionType.ModalSubmit && record.sourceMessage);
    const commandType = record.payload.type === InteractionType.ApplicationCommand ? MessageType.ChatInputCommand : MessageType.Default;
    switch (callback.type) {
      case InteractionResponseType.Pong:
        break;
      case InteractionResponseType.ChannelMessageWithSource:
        record.original = this.storeMessage(record.channelId, data, body.files, { interactionToken: record.token, visibleTo: record.user.id, type: commandType });
        record.visible = record.original;
        break;
      case InteractionResponseType.DeferredChannelMessageWithSource:
        record.original = this.storeMessage(
          record.channelId,
          { content: '', flags: ((data.flags ?? 0) & MessageFlags.Ephemeral) | MessageFlags.Loading },
          [],
          { interactionToken: record.token, visibleTo: record.user.id, type: commandType },
        );
        break;
      case InteractionResponseType.DeferredMessageUpdate:
      case InteractionResponseType.UpdateMessage: {
        if (!isComponent || !record.sourceMessage) throw new DiscordApiError(400, 50035, 'Invalid Form Body: message updates need a component interaction', true);
        record.original = record.sourceMessage;
        if (callback.type === InteractionResponseType.UpdateMessage) {
          editMessage(record.sourceMessage, data, body.files);
          record.visible = record.sourceMessage;
        }
        break;
      }
      case InteractionResponseType.ApplicationCommandAutocompleteResult:
        if (record.payload.type !== InteractionType.ApplicationCommandAutocomplete) throw new DiscordApiError(400, 50035, 'Invalid Form Body: not an autocomplete interaction', true);
        record.choices = data.choices ?? [];
        break;
      case InteractionResponseType.Modal:
        if (record.payload.type === InteractionType.ModalSubmit) throw new DiscordApiError(400, 50035, 'Invalid Form Body: cannot answer a modal with a modal', true);
        record.modal = data as unknown as APIModalInteractionResponseCallbackData;
        break;
      default:
        throw new DiscordApiError(400, 50035, `Invalid Form Body: unsupported callback type ${String(callback.type)}`, true);
    }
    record.responseType = callback.type;
    record.ackedAt = performance.now();
    notify(record);
    if (query.get('with_response') === 'true') {
      sendJson(res, 200, {
        interaction: {
          id: record.id,
          type: record.payload.type,
          activity_instance_id: null,
          response_message_id: record.original?.id ?? null,
          response_message_loading: callback.type === InteractionResponseType.DeferredChannelMessageWithSource,
          response_message_ephemeral: record.original?.ephemeral ?? false,
        },
        ...(record.original ? { resource: { type: callback.type, message: toApiMessage(record.original) } } : {}),
      });
      return;
    }
    noContent(res);
  }

  private storeMessage(
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
    this.messages.push(message);
    this.messageIndex.set(message.id, message);
    return message;
  }

  private webhookMessage(params: Record<string, string>): { record: InteractionRecord; message: EmuMessage } {
    const record = this.mustInteraction(params.token, params.appId);
    const id = params.messageId;
    if (id === '@original') {
      if (!record.original) throw new DiscordApiError(404, 10008, 'Unknown Message', true);
      return { record, message: record.original };
    }
    const message = record.followUps.find((m) => m.id === id) ?? (record.original?.id === id ? record.original : undefined);
    if (!message) throw new DiscordApiError(404, 10008, 'Unknown Message');
    return { record, message };
  }

  private mustInteraction(token: string | undefined, appId: string | undefined): InteractionRecord {
    this.checkApp(appId);
    const record = this.interactions.get(token ?? '');
    if (!record) throw new DiscordApiError(404, 10015, 'Unknown Webhook', true);
    return record;
  }

  private checkApp(appId: string | undefined): void {
    if (appId !== this.appId) throw new DiscordApiError(404, 10002, 'Unknown Application', true);
  }

  private mustGuild(id: string | undefined): EmuGuild {
    const guild = this.guilds.get(id ?? '');
    if (!guild) throw new DiscordApiError(404, 10004, 'Unknown Guild', true);
    return guild;
  }

  private mustMember(guildId: string | undefined, userId: string | undefined): EmuMember {
    const member = this.mustGuild(guildId).members.get(userId ?? '');
    if (!member) throw new DiscordApiError(404, 10007, 'Unknown Member');
    return member;
  }

  private mustChannel(id: string | undefined): EmuChannel {
    const channel = this.channels.get(id ?? '');
    if (!channel) throw new DiscordApiError(404, 10003, 'Unknown Channel');
    return channel;
  }

  private mustMessage(channelId: string | undefined, messageId: string | undefined): EmuMessage {
    const message = this.messageIndex.get(messageId ?? '');
    if (!message || message.channel_id !== channelId || message.deleted) throw new DiscordApiError(404, 10008, 'Unknown Message');
    return message;
  }
}

/** Starts an emulator on a loopback port. */
export async function startDiscordEmulator(options: DiscordEmulatorOptions = {}): Promise<DiscordEmulator> {
  const emu = new DiscordEmulator(options);
  await emu.listen();
  return emu;
}

function modalInputIds(modal: APIModalInteractionResponseCallbackData): Set<string> {
  const ids = new Set<string>();
  const visit = (node: unknown): void => {
    if (!node || typeof node !== 'object') return;
    const c = node as { type?: number; custom_id?: string; components?: unknown[]; component?: unknown };
    if (c.type === ComponentType.TextInput && c.custom_id) ids.add(c.custom_id);
    for (const child of c.components ?? []) visit(child);
    if (c.component) visit(c.component);
  };
  for (const row of modal.components ?? []) visit(row);
  return ids;
}

function withoutUser<T extends { user?: unknown }>(member: T): Omit<T, 'user'> {
  const { user: _u, ...rest } = member;
  return rest;
}

function describeValue(raw: OptionValue): string {
  return typeof raw === 'object' ? JSON.stringify('name' in raw ? raw.name : raw) : String(raw);
}

function asArray(json: unknown): CommandBody[] {
  if (!Array.isArray(json)) throw new DiscordApiError(400, 50035, 'Invalid Form Body: expected an array', true);
  return json as CommandBody[];
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function noContent(res: ServerResponse): void {
  res.writeHead(204).end();
}

async function readBody(req: IncomingMessage): Promise<ParsedBody> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks);
  if (raw.length === 0) return { json: undefined, files: [] };
  const type = req.headers['content-type'] ?? '';
  if (type.startsWith('multipart/form-data')) {
    const parts = parseMultipart(raw, type);
    const payload = parts.find((p) => p.name === 'payload_json');
    const files = parts
      .filter((p) => p.name.startsWith('files[') || p.filename !== undefined)
      .filter((p) => p.name !== 'payload_json')
      .map((p): EmuFile => ({ id: snowflake(), name: p.filename ?? p.name, contentType: p.contentType, data: p.data }));
    return { json: payload ? JSON.parse(payload.data.toString('utf8')) : {}, files };
  }
  try {
    return { json: JSON.parse(raw.toString('utf8')), files: [] };
  } catch {
    throw new DiscordApiError(400, 50109, 'The request body contains invalid JSON.', true);
  }
}

export type { APIChannel };
