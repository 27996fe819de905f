import type { ServerResponse } from 'node:http';
import type { RouteDef } from './router';

/** Opt-in rate limits (see `DiscordEmulatorOptions.rateLimits`); the defaults are Discord's documented ones. */
export interface RateLimitOptions {
  /** Requests per bucket per window; default 5 (Discord's per-channel message bucket is 5 per 5 s). */
  perRoute?: number;
  windowMs?: number;
  /** Requests per second across all authenticated routes; default 50 (Discord's global limit). */
  globalPerSecond?: number;
}

interface Bucket {
  id: string;
  remaining: number;
  resetAt: number;
}

/** What the limiter decided: headers to send, or a 429 to answer instead. */
export type RateLimitVerdict = { headers: Record<string, string>; limited?: { retryAfterMs: number; global: boolean } };

/**
 * Discord's rate limits as the emulator enforces them: one bucket per route and major parameter (channel, guild,
 * webhook), each answering `X-RateLimit-Limit/Remaining/Reset/Reset-After/Bucket`, and a global per-second limit on
 * authenticated requests. Interaction callbacks (no bot token) count against neither, as on Discord.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly perRoute: number;
  private readonly windowMs: number;
  private readonly globalPerSecond: number;
  private global = { count: 0, resetAt: 0 };

  constructor(
    options: RateLimitOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.perRoute = options.perRoute ?? 5;
    this.windowMs = options.windowMs ?? 5_000;
    this.globalPerSecond = options.globalPerSecond ?? 50;
  }

  check(route: RouteDef, params: Record<string, string>): RateLimitVerdict | undefined {
    if (route.auth === false) return undefined;
    const t = this.now();
    if (t >= this.global.resetAt) this.global = { count: 0, resetAt: t + 1_000 };
    if (this.global.count >= this.globalPerSecond) {
      return { headers: { 'x-ratelimit-global': 'true', 'x-ratelimit-scope': 'global' }, limited: { retryAfterMs: this.global.resetAt - t, global: true } };
    }
    const major = params.channelId ?? params.guildId ?? params.token ?? '';
    const key = `${route.method} ${route.path} ${major}`;
    let bucket = this.buckets.get(key);
    if (!bucket || t >= bucket.resetAt) {
      bucket = { id: bucket?.id ?? Buffer.from(`${route.method} ${route.path}`).toString('hex').slice(0, 32), remaining: this.perRoute, resetAt: t + this.windowMs };
      this.buckets.set(key, bucket);
    }
    const resetAfterMs = bucket.resetAt - t;
    const headers = {
      'x-ratelimit-limit': String(this.perRoute),
      'x-ratelimit-remaining': String(Math.max(0, bucket.remaining - 1)),
      'x-ratelimit-reset': ((Date.now() + resetAfterMs) / 1000).toFixed(3),
      'x-ratelimit-reset-after': (resetAfterMs / 1000).toFixed(3),
      'x-ratelimit-bucket': bucket.id,
    };
    if (bucket.remaining <= 0) return { headers: { ...headers, 'x-ratelimit-remaining': '0', 'x-ratelimit-scope': 'user' }, limited: { retryAfterMs: resetAfterMs, global: false } };
    bucket.remaining--;
    this.global.count++;
    return { headers };
  }
}

/** Discord's 429 body and `Retry-After` (seconds). */
export function sendRateLimited(res: ServerResponse, verdict: RateLimitVerdict & { limited: { retryAfterMs: number; global: boolean } }): unknown {
  const retryAfter = Math.max(0.001, verdict.limited.retryAfterMs / 1000);
  for (const [k, v] of Object.entries(verdict.headers)) res.setHeader(k, v);
  res.setHeader('retry-after', String(Math.ceil(retryAfter)));
  // `code` 0 (General error) as the spec's RatelimitedResponse requires.
  return { message: 'You are being rate limited.', retry_after: Number(retryAfter.toFixed(3)), global: verdict.limited.global, code: 0 };
}
