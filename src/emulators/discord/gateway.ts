import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  GatewayDispatchEvents,
  GatewayIntentBits,
  GatewayOpcodes,
  type APIMessage,
  type GatewayReceivePayload,
} from 'discord-api-types/v10';
import { randomToken, toApiMember, toApiMessage, toApiUser, type EmuMessage } from './discord-state';
import type { DiscordWorld } from './discord-world';

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

interface GatewaySession {
  id: string;
  /** `[shard_id, num_shards]` from IDENTIFY: which guilds' events this session receives. */
  shard: [number, number];
  /** Intents sent with IDENTIFY; kept across RESUMEs like Discord does. */
  intents: number;
  seq: number;
  buffer: Array<{ s: number; t: string; d: unknown }>;
  ws: WebSocket | undefined;
  resumeWaiters: Array<() => void>;
}

const REPLAY_BUFFER = 5_000;
/** The intents Discord makes an app switch on in the developer portal before it may IDENTIFY with them. */
export const PRIVILEGED_INTENTS = GatewayIntentBits.GuildMembers | GatewayIntentBits.GuildPresences | GatewayIntentBits.MessageContent;
const DISCORD_EPOCH_MS = 1_420_070_400_000n;
const SESSION_LIMIT_WINDOW_MS = 24 * 60 * 60 * 1000;

/** Discord's rule: a guild's events go to shard `(guild_id >> 22) % num_shards`; DMs (no guild) to shard 0. */
export function shardOf(guildId: string | null, shardCount: number): number {
  return guildId === null ? 0 : Number((BigInt(guildId) >> 22n) % BigInt(shardCount));
}

/** A snowflake for "now" that lands on `shard` of `shardCount`: lets a test put a guild on a chosen shard. */
export function snowflakeOnShard(shard: number, shardCount: number): string {
  const count = BigInt(shardCount);
  let ms = BigInt(Date.now()) - DISCORD_EPOCH_MS;
  ms -= ((ms % count) - BigInt(shard) + count) % count;
  return ((ms << 22n) | BigInt(Math.floor(Math.random() * 4096))).toString();
}

export interface GatewayShardingOptions {
  /** Shards `GET /gateway/bot` recommends (at least what the guild count requires). Default 1. */
  shards?: number;
  /** Guilds one session may hold before IDENTIFY is refused with 4011 Sharding required. Discord: 2,500. */
  maxGuildsPerShard?: number;
  /** `session_start_limit.total` per 24 h; an IDENTIFY past it is refused (Discord resets the token). Default 1,000. */
  sessionStartLimit?: number;
  /** `session_start_limit.max_concurrency`: IDENTIFYs per 5 s bucket. Default 16 (a large bot's), so tests start fast. */
  maxConcurrency?: number;
}

/** Where the emulator stands on shards: what the bot sees at `GET /gateway/bot`. */
export interface GatewayBotInfo {
  url: string;
  shards: number;
  session_start_limit: { total: number; remaining: number; reset_after: number; max_concurrency: number };
}

/**
 * The gateway WebSocket: HELLO, IDENTIFY → READY + GUILD_CREATE, heartbeats, RESUME with replay of buffered
 * events, member chunks, and dispatch of events to every session of the guild's shard (filtered by intents where
 * Discord does). IDENTIFY is checked like Discord: an impossible shard closes 4010, too few shards for the guild
 * count 4011, and each counts against the session start limit.
 */
export class DiscordGateway {
  /** Total IDENTIFYs and RESUMEs seen: lets tests tell a resume from a fresh login. */
  readonly stats = { identifies: 0, resumes: 0, heartbeats: 0 };
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly sessions = new Map<string, GatewaySession>();
  private readonly sockets = new Set<WebSocket>();
  private readyWaiters: Array<() => void> = [];
  private sessionStarts: number[] = [];
  /** Sockets whose heartbeats go unanswered: a zombied connection, as a half-dead network path leaves it. */
  private readonly zombies = new WeakSet<WebSocket>();
  /**
   * The privileged intents switched on for the app in the developer portal (default all): an IDENTIFY asking for
   * any other is closed with 4014 Disallowed intents. Changing it affects the next IDENTIFY.
   */
  privilegedIntents: number;

  constructor(
    private readonly world: DiscordWorld,
    private readonly options: { heartbeatIntervalMs: number; gatewayUrl: () => string; sharding?: GatewayShardingOptions; privilegedIntents?: number },
  ) {
    this.privilegedIntents = options.privilegedIntents ?? PRIVILEGED_INTENTS;
  }

  /** Fewest shards Discord accepts for the current guild count. */
  get requiredShards(): number {
    return Math.max(1, Math.ceil(this.world.guilds.size / (this.options.sharding?.maxGuildsPerShard ?? 2_500)));
  }

  /** What `GET /gateway/bot` answers. */
  botInfo(): GatewayBotInfo {
    const total = this.options.sharding?.sessionStartLimit ?? 1_000;
    const now = Date.now();
    this.sessionStarts = this.sessionStarts.filter((t) => t > now - SESSION_LIMIT_WINDOW_MS);
    const oldest = this.sessionStarts[0];
    return {
      url: this.options.gatewayUrl(),
      shards: Math.max(this.options.sharding?.shards ?? 1, this.requiredShards),
      session_start_limit: {
        total,
        remaining: Math.max(0, total - this.sessionStarts.length),
        reset_after: oldest === undefined ? 0 : oldest + SESSION_LIMIT_WINDOW_MS - now,
        max_concurrency: this.options.sharding?.maxConcurrency ?? 16,
      },
    };
  }

  /** Every session with its shard and whether its socket is up (a killed bot's sessions stay, disconnected). */
  get shardSessions(): Array<{ id: string; shard: [number, number]; connected: boolean }> {
    return [...this.sessions.values()].map((s) => ({ id: s.id, shard: s.shard, connected: s.ws !== undefined }));
  }

  /** A session exists (its socket may have just dropped: events are buffered for RESUME). */
  get hasSessions(): boolean {
    return this.sessions.size > 0;
  }

  get connected(): boolean {
    return [...this.sessions.values()].some((s) => s.ws !== undefined);
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (!req.url?.startsWith('/gateway')) {
      this.world.failures.push({ method: 'UPGRADE', path: req.url ?? '', status: 404, reason: 'unknown websocket path' });
      socket.destroy();
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws));
  }

  close(): void {
    for (const ws of this.sockets) ws.terminate();
    this.wss.close();
  }

  /** Resolves once a bot session has IDENTIFYed and received its guilds. */
  waitForBot(timeoutMs: number): Promise<void> {
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
  dropConnection(timeoutMs = 10_000): Promise<void> {
    return this.untilResumed('a dropped connection', timeoutMs, (session) => {
      session.ws?.terminate();
      session.ws = undefined;
    });
  }

  /** Sends op 7 Reconnect on every live session (as Discord does before moving a session); resolves on RESUME. */
  requestReconnect(timeoutMs = 10_000): Promise<void> {
    return this.untilResumed('op 7 Reconnect', timeoutMs, (session) => session.ws?.send(JSON.stringify({ op: GatewayOpcodes.Reconnect, d: null, s: null, t: null })));
  }

  /**
   * Stops acknowledging heartbeats on every live socket (a zombied connection); resolves once the bot noticed the
   * missing HEARTBEAT_ACK, dropped the socket and RESUMEd on a new one.
   */
  zombieConnection(timeoutMs = 10_000): Promise<void> {
    return this.untilResumed('missed heartbeat ACKs', timeoutMs, (session) => {
      if (session.ws) this.zombies.add(session.ws);
    });
  }

  private async untilResumed(after: string, timeoutMs: number, act: (session: GatewaySession) => void): Promise<void> {
    const live = [...this.sessions.values()].filter((s) => s.ws);
    if (live.length === 0) throw new Error('no live gateway connection');
    const resumed = live.map(
      (session) =>
        new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`the bot did not RESUME after ${after}`)), timeoutMs);
          session.resumeWaiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        }),
    );
    for (const session of live) act(session);
    await Promise.all(resumed);
  }

  /** Forgets all sessions and tells connected bots their session is invalid (they must IDENTIFY again). */
  invalidateSessions(): void {
    for (const session of this.sessions.values()) {
      session.ws?.send(JSON.stringify({ op: GatewayOpcodes.InvalidSession, d: false }));
    }
    this.sessions.clear();
  }

  /**
   * Sends an event to every session of its guild's shard that identified with the intent it needs (see
   * {@link intentFor}) and every intent in `alsoNeeds`; disconnected sessions buffer it for RESUME replay.
   */
  dispatch(t: string, d: unknown, alsoNeeds = 0): void {
    const guildId = guildOf(t, d);
    const needed = intentFor(t, guildId);
    for (const session of this.sessions.values()) {
      if (needed !== 0 && (session.intents & needed) === 0) continue;
      if ((session.intents & alsoNeeds) !== alsoNeeds) continue;
      if (ownsGuild(session, guildId)) this.sendDispatch(session, t, d);
    }
  }

  /** Sends MESSAGE_CREATE for a stored message to every session whose intents cover it. */
  dispatchMessageCreate(message: EmuMessage): void {
    const { world } = this;
    const channel = world.channels.get(message.channel_id);
    const inGuild = channel !== undefined && channel.guildId !== null;
    const member = inGuild ? world.guild.members.get(message.author.id) : undefined;
    const api = toApiMessage(message);
    const full = {
      ...api,
      ...(inGuild ? { guild_id: channel.guildId } : {}),
      ...(member ? { member: withoutUser(toApiMember(member, world.users)) } : {}),
    };
    // Without MessageContent, Discord blanks these except in DMs, the bot's own messages and messages mentioning it.
    const contentExempt = !inGuild || message.author.id === world.bot.id || message.mentions.some((u) => u.id === world.bot.id);
    const blanked = { ...full, content: '', embeds: [], attachments: [], components: [] } satisfies Partial<APIMessage>;
    const needed = inGuild ? GatewayIntentBits.GuildMessages : GatewayIntentBits.DirectMessages;
    for (const session of this.sessions.values()) {
      if ((session.intents & needed) === 0 || !ownsGuild(session, channel?.guildId ?? null)) continue;
      const withContent = contentExempt || (session.intents & GatewayIntentBits.MessageContent) !== 0;
      this.sendDispatch(session, GatewayDispatchEvents.MessageCreate, withContent ? full : blanked);
    }
  }

  private onConnection(ws: WebSocket): void {
    this.sockets.add(ws);
    let session: GatewaySession | undefined;
    ws.on('close', () => {
      this.sockets.delete(ws);
      if (session?.ws === ws) session.ws = undefined;
    });
    ws.on('error', () => undefined);
    ws.send(JSON.stringify({ op: GatewayOpcodes.Hello, d: { heartbeat_interval: this.options.heartbeatIntervalMs }, s: null, t: null }));
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
          this.stats.heartbeats++;
          if (!this.zombies.has(ws)) ws.send(JSON.stringify({ op: GatewayOpcodes.HeartbeatAck, d: null, s: null, t: null }));
          return;
        case GatewayOpcodes.Identify:
          session = this.identify(ws, packet) ?? session;
          return;
        case GatewayOpcodes.Resume:
          session = this.resume(ws, packet) ?? session;
          return;
        case GatewayOpcodes.PresenceUpdate:
          return;
        case GatewayOpcodes.RequestGuildMembers:
          if (session) this.requestGuildMembers(session, packet);
          return;
        default:
          this.world.failures.push({ method: 'GATEWAY', path: `op ${packet.op}`, status: 0, reason: 'unhandled gateway opcode' });
          ws.close(4001, 'Unknown opcode');
      }
    });
  }

  private identify(ws: WebSocket, packet: GatewayCommand): GatewaySession | undefined {
    const { world } = this;
    if (packet.d?.token !== world.token && packet.d?.token !== `Bot ${world.token}`) {
      ws.close(4004, 'Authentication failed');
      return undefined;
    }
    const shard = packet.d?.shard ?? [0, 1];
    const [shardId, shardCount] = shard;
    if (!Number.isInteger(shardId) || !Number.isInteger(shardCount) || shardCount < 1 || shardId < 0 || shardId >= shardCount) {
      ws.close(4010, 'Invalid shard');
      return undefined;
    }
    if (shardCount < this.requiredShards) {
      ws.close(4011, 'Sharding required');
      return undefined;
    }
    if (Number(packet.d?.intents ?? 0) & PRIVILEGED_INTENTS & ~this.privilegedIntents) {
      ws.close(4014, 'Disallowed intent(s).');
      return undefined;
    }
    if (this.botInfo().session_start_limit.remaining === 0) {
      this.world.failures.push({ method: 'GATEWAY', path: 'IDENTIFY', status: 0, reason: 'session start limit exhausted (Discord resets the token)' });
      ws.close(4004, 'Authentication failed');
      return undefined;
    }
    this.sessionStarts.push(Date.now());
    this.stats.identifies++;
    const session: GatewaySession = { id: randomToken(16), shard: [shardId, shardCount], intents: Number(packet.d?.intents ?? 0), seq: 0, buffer: [], ws, resumeWaiters: [] };
    this.sessions.set(session.id, session);
    const guilds = [...world.guilds.values()].filter((g) => ownsGuild(session, g.id));
    this.sendDispatch(session, GatewayDispatchEvents.Ready, {
      v: 10,
      user: { ...toApiUser(world.bot), verified: true, mfa_enabled: false, flags: 0 },
      guilds: guilds.map((g) => ({ id: g.id, unavailable: true })),
      session_id: session.id,
      resume_gateway_url: this.options.gatewayUrl(),
      shard: session.shard,
      application: { id: world.appId, flags: 0 },
    });
    for (const guild of guilds) this.sendDispatch(session, GatewayDispatchEvents.GuildCreate, world.guildPayload(guild));
    const waiters = this.readyWaiters;
    this.readyWaiters = [];
    for (const w of waiters) w();
    return session;
  }

  private resume(ws: WebSocket, packet: GatewayCommand): GatewaySession | undefined {
    const found = this.sessions.get(packet.d?.session_id ?? '');
    if (!found || packet.d?.token?.replace(/^Bot /, '') !== this.world.token) {
      ws.send(JSON.stringify({ op: GatewayOpcodes.InvalidSession, d: false, s: null, t: null }));
      return undefined;
    }
    this.stats.resumes++;
    found.ws = ws;
    const since = Number(packet.d?.seq ?? 0);
    for (const event of found.buffer) {
      if (event.s > since) ws.send(JSON.stringify({ op: GatewayOpcodes.Dispatch, ...event }));
    }
    this.sendDispatch(found, GatewayDispatchEvents.Resumed, {});
    const waiters = found.resumeWaiters;
    found.resumeWaiters = [];
    for (const w of waiters) w();
    return found;
  }

  private requestGuildMembers(session: GatewaySession, packet: GatewayCommand): void {
    const guild = this.world.guilds.get(packet.d?.guild_id ?? '');
    if (!guild) return;
    const ids = packet.d?.user_ids;
    const wanted = ids === undefined ? undefined : typeof ids === 'string' ? [ids] : ids;
    const members = [...guild.members.values()].filter((m) => !wanted || wanted.includes(m.userId));
    this.sendDispatch(session, GatewayDispatchEvents.GuildMembersChunk, {
      guild_id: guild.id,
      members: members.map((m) => toApiMember(m, this.world.users)),
      chunk_index: 0,
      chunk_count: 1,
      not_found: wanted ? wanted.filter((id) => !guild.members.has(id)) : [],
      ...(packet.d?.nonce ? { nonce: packet.d.nonce } : {}),
    });
  }

  private sendDispatch(session: GatewaySession, t: string, d: unknown): void {
    const s = ++session.seq;
    session.buffer.push({ s, t, d });
    if (session.buffer.length > REPLAY_BUFFER) session.buffer.shift();
    const packet = { op: GatewayOpcodes.Dispatch, s, t, d } as GatewayReceivePayload;
    session.ws?.send(JSON.stringify(packet));
  }
}

function ownsGuild(session: GatewaySession, guildId: string | null): boolean {
  return shardOf(guildId, session.shard[1]) === session.shard[0];
}

/** The guild an event belongs to: guild events carry it as `id`, the rest as `guild_id`; none means a DM. */
const GUILDS_EVENTS = new Set<string>([
  GatewayDispatchEvents.GuildCreate,
  GatewayDispatchEvents.GuildUpdate,
  GatewayDispatchEvents.GuildDelete,
  GatewayDispatchEvents.GuildRoleCreate,
  GatewayDispatchEvents.GuildRoleUpdate,
  GatewayDispatchEvents.GuildRoleDelete,
  GatewayDispatchEvents.ChannelCreate,
  GatewayDispatchEvents.ChannelUpdate,
  GatewayDispatchEvents.ChannelDelete,
  GatewayDispatchEvents.ThreadCreate,
  GatewayDispatchEvents.ThreadUpdate,
  GatewayDispatchEvents.ThreadDelete,
  GatewayDispatchEvents.ThreadMembersUpdate,
]);
const MEMBER_EVENTS = new Set<string>([GatewayDispatchEvents.GuildMemberAdd, GatewayDispatchEvents.GuildMemberUpdate, GatewayDispatchEvents.GuildMemberRemove]);
const MESSAGE_EVENTS = new Set<string>([GatewayDispatchEvents.MessageCreate, GatewayDispatchEvents.MessageUpdate, GatewayDispatchEvents.MessageDelete]);

/** The intent a session needs to receive an event (Discord's intents table); 0 for events every session gets. */
function intentFor(t: string, guildId: string | null): number {
  if (GUILDS_EVENTS.has(t)) return GatewayIntentBits.Guilds;
  if (MEMBER_EVENTS.has(t)) return GatewayIntentBits.GuildMembers;
  if (MESSAGE_EVENTS.has(t)) return guildId !== null ? GatewayIntentBits.GuildMessages : GatewayIntentBits.DirectMessages;
  return 0;
}

function guildOf(t: string, d: unknown): string | null {
  const payload = (d ?? {}) as { id?: unknown; guild_id?: unknown };
  const isGuild = t === GatewayDispatchEvents.GuildCreate || t === GatewayDispatchEvents.GuildUpdate || t === GatewayDispatchEvents.GuildDelete;
  const id = isGuild ? payload.id : payload.guild_id;
  return typeof id === 'string' ? id : null;
}

function withoutUser<T extends { user?: unknown }>(member: T): Omit<T, 'user'> {
  const { user: _u, ...rest } = member;
  return rest;
}
