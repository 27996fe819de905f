import { once } from 'node:events';
import { Client, Events, GatewayIntentBits, Partials, type RESTOptions } from 'discord.js';

/**
 * GuildMessages + MessageContent let ticket threads be transcribed from what people write there. MessageContent is
 * privileged: enable "Message Content Intent" for the bot in the Discord developer portal, or login fails (4014).
 */
export const DEFAULT_INTENTS = [
  GatewayIntentBits.Guilds,
  GatewayIntentBits.GuildMembers,
  GatewayIntentBits.DirectMessages,
  GatewayIntentBits.GuildMessages,
  GatewayIntentBits.MessageContent,
];

export interface DiscordClientOptions {
  token: string;
  /** discord.js `rest.api`: `https://discord.com/api` by default; the emulator's `apiUrl` in tests and the sandbox. */
  apiUrl?: string;
  intents?: GatewayIntentBits[];
  /** Extra REST options; load tests pass `{ globalRequestsPerSecond: Infinity }`. */
  rest?: Partial<RESTOptions>;
  /**
   * Gateway shards this process runs: `ids` of `count` across all replicas; `'auto'` runs every shard Discord
   * recommends (`GET /gateway/bot`). Default: discord.js's, one shard.
   */
  shards?: { count: number; ids?: number[] } | 'auto';
}

/**
 * A discord.js client with its REST token set, so commands can be deployed before (or without) logging in.
 * zlib-sync is deliberately not installed: without it discord.js uses an uncompressed JSON gateway.
 */
export function createDiscordClient(options: DiscordClientOptions): Client {
  const client = new Client({
    intents: options.intents ?? DEFAULT_INTENTS,
    // DM channels arrive partial; without this, interactions and messages in DMs are dropped. Messages: edits and
    // deletes of messages not in the cache (written before a restart) still reach the message handlers.
    partials: [Partials.Channel, Partials.Message],
    ...(options.shards === 'auto'
      ? { shards: 'auto' as const }
      : options.shards
        ? { shardCount: options.shards.count, shards: options.shards.ids ?? [...Array(options.shards.count).keys()] }
        : {}),
    rest: { ...(options.apiUrl ? { api: options.apiUrl } : {}), ...options.rest },
  });
  client.token = options.token;
  client.rest.setToken(options.token);
  return client;
}

/**
 * The gateway close codes after which Discord will not take a shard back (discord.js stops reconnecting it), each
 * with what the operator has to change: nothing the bot does on its own can fix them.
 */
const FATAL_CLOSE_CODES: Record<number, string> = {
  4004: 'authentication failed: DISCORD_TOKEN is wrong or was reset (a reset also follows an exhausted session start limit)',
  4010: 'invalid shard: SHARD_IDS must be below SHARD_COUNT',
  4011: 'sharding required: the bot is in too many guilds for one shard; raise SHARD_COUNT',
  4012: 'invalid API version',
  4013: 'invalid intents',
  4014:
    'disallowed intents: enable "Server Members Intent" and "Message Content Intent" for the bot in the Discord developer portal ' +
    '(Applications → the bot → Bot → Privileged Gateway Intents), then restart',
};

/** Why Discord closed a shard for good and what to change, or undefined when discord.js reconnects by itself. */
export function fatalGatewayClose(code: number): string | undefined {
  return FATAL_CLOSE_CODES[code];
}

/**
 * Watches for shards Discord closed for good after login (discord.js does not reconnect them): returns what /readyz
 * reports — 'ok', or which shard closed with which code and what to change. A bot with a dead shard answers nobody
 * in that shard's guilds, so it must not look ready to a process manager or load balancer.
 */
export function watchGatewayHealth(client: Client): () => string {
  const dead = new Map<number, string>();
  client.on(Events.ShardDisconnect, ({ code }, shardId) => {
    const reason = fatalGatewayClose(code);
    if (reason) dead.set(shardId, `shard ${shardId} closed for good (close code ${code}): ${reason}`);
  });
  // Only a fresh login brings a closed shard back; if one does, it serves again.
  client.on(Events.ShardReady, (shardId) => dead.delete(shardId));
  return () => (dead.size ? [...dead.values()].join('; ') : 'ok');
}

/**
 * Logs in and resolves once the client is ready (guilds received). A shard the gateway refuses for good (invalid
 * shard 4010, sharding required 4011, authentication 4004, disallowed intents 4014) fails the login with its reason
 * and what to change, instead of a timeout.
 */
export async function loginDiscordClient(client: Client, timeoutMs = 30_000): Promise<void> {
  if (client.isReady()) return;
  const token = client.token;
  if (!token) throw new Error('the Discord client has no token');
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(new Error(`the Discord client was not ready after ${timeoutMs} ms`)), timeoutMs);
  const ready = once(client, Events.ClientReady, { signal: abort.signal });
  const refused = once(client, Events.ShardDisconnect, { signal: abort.signal }).then(([event, shardId]) => {
    const { code } = event as { code: number };
    throw new Error(`gateway refused shard ${String(shardId)} of ${String(client.options.shardCount)} (close code ${code}): ${fatalGatewayClose(code) ?? 'closed'}`);
  });
  try {
    await Promise.race([client.login(token).then(() => ready), refused]);
  } finally {
    clearTimeout(timer);
    abort.abort();
    ready.catch(() => undefined);
    refused.catch(() => undefined);
  }
}
