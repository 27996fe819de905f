import { z } from 'zod';

// The only reader of process.env. Every key here is documented in .env.example.

const emptyToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);
const optionalString = z.preprocess(emptyToUndefined, z.string().optional());
const optionalUrl = z.preprocess(emptyToUndefined, z.url().optional());
const port = (fallback: number) =>
  z.preprocess(emptyToUndefined, z.coerce.number().int().min(0).max(65535).default(fallback));
const bool = (fallback: boolean) =>
  z.preprocess(
    emptyToUndefined,
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'])
      .default(fallback ? 'true' : 'false')
      .transform((v) => v === 'true' || v === '1' || v === 'yes'),
  );

/** CODE:AMOUNT pairs (decimal amounts in whole units), comma-separated → { CODE: "amount" }. */
const codeAmounts = (fallback: string) =>
  z.preprocess(
    emptyToUndefined,
    z
      .string()
      .default(fallback)
      .transform((v, c) => {
        const out: Record<string, string> = {};
        for (const entry of v.split(',').map((s) => s.trim()).filter(Boolean)) {
          const m = /^([A-Z][A-Z0-9]{1,9}):(\d+(?:\.\d+)?)$/.exec(entry);
          if (!m) c.addIssue({ code: 'custom', message: `"${entry}" is not CODE:AMOUNT (e.g. SOL:10)` });
          else out[m[1]!] = m[2]!;
        }
        return out;
      }),
  );
const snowflake = z.preprocess(emptyToUndefined, z.string().regex(/^\d{15,22}$/, 'must be a snowflake').optional());

/** Circle's USDC on Solana devnet. */
export const DEVNET_USDC_MINT = '4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU';

export const configSchema = z.object({
  NODE_ENV: z.preprocess(emptyToUndefined, z.enum(['development', 'production', 'test']).default('development')),
  LOG_LEVEL: z.preprocess(
    emptyToUndefined,
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  ),

  // Database: DATABASE_URL wins; without it an embedded PostgreSQL 17 runs from PG_DATA_DIR.
  DATABASE_URL: optionalUrl,
  PG_DATA_DIR: z.preprocess(emptyToUndefined, z.string().default('./.data/pg')),
  PG_PORT: port(54329),
  DB_POOL_MAX: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1).max(500).default(20)),
  DB_CONNECT_TIMEOUT_SECONDS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(0).max(600).default(30)),
  MIGRATE_ON_START: bool(true),

  // HTTP server: health, metrics, admin API and the wallet-link page.
  HTTP_HOST: z.preprocess(emptyToUndefined, z.string().default('127.0.0.1')),
  HTTP_PORT: port(3000),
  PUBLIC_URL: optionalUrl,
  // Behind a reverse proxy, trust X-Forwarded-For so per-IP rate limits see clients, not the proxy.
  HTTP_TRUST_PROXY: bool(false),
  ADMIN_TOKEN: z.preprocess(emptyToUndefined, z.string().min(24, 'must be at least 24 characters').optional()),

  // Discord. Without DISCORD_TOKEN, `npm start` runs the sandbox against the loopback emulator.
  DISCORD_TOKEN: optionalString,
  DISCORD_APP_ID: z.preprocess(emptyToUndefined, z.string().regex(/^\d{15,22}$/, 'must be a snowflake').optional()),
  DISCORD_API_URL: optionalUrl,
  DISCORD_GUILD_ID: z.preprocess(emptyToUndefined, z.string().regex(/^\d{15,22}$/, 'must be a snowflake').optional()),
  // Operators (bot-wide: money creation, payout review, currency pause/limits, blocking users): Discord user ids,
  // comma-separated, given the operator role in the database at start. Never inferred from a guild permission.
  BOT_OPERATOR_IDS: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .default('')
      .transform((v, c) => {
        const ids = v.split(',').map((s) => s.trim()).filter(Boolean);
        for (const id of ids) if (!/^\d{15,22}$/.test(id)) c.addIssue({ code: 'custom', message: `"${id.slice(0, 40)}" is not a Discord user id (15-22 digits)` });
        return [...new Set(ids)];
      }),
  ),
  // Gateway shards across all replicas; unset → this process runs every shard Discord recommends.
  SHARD_COUNT: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1).max(100_000).optional()),
  // The shards this replica runs, e.g. `0,1` or `0-3,8`; unset → all of 0..SHARD_COUNT-1.
  SHARD_IDS: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .optional()
      .transform((v, c) => {
        if (v === undefined) return undefined;
        const ids: number[] = [];
        let malformed = false;
        for (const part of v.split(',').map((s) => s.trim()).filter(Boolean)) {
          const m = /^(\d{1,6})(?:-(\d{1,6}))?$/.exec(part);
          if (!m || (m[2] !== undefined && Number(m[2]) < Number(m[1]))) {
            c.addIssue({ code: 'custom', message: `"${part}" is not a shard id or a range like 0-3` });
            malformed = true;
            continue;
          }
          for (let id = Number(m[1]); id <= Number(m[2] ?? m[1]); id++) ids.push(id);
        }
        if (ids.length === 0 && !malformed) c.addIssue({ code: 'custom', message: 'list at least one shard id' });
        if (new Set(ids).size !== ids.length) c.addIssue({ code: 'custom', message: 'a shard id is listed twice' });
        return ids;
      }),
  ),
  // Deferred interactions unanswered this long are answered by any replica (the reply outbox, src/discord/reply-outbox.ts).
  REPLY_RECOVERY_SECONDS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(3).max(600).default(20)),

  // Solana. Without DISCORD_TOKEN the sandbox points these at the loopback Solana emulator.
  SOLANA_CLUSTER: z.preprocess(emptyToUndefined, z.enum(['devnet', 'testnet', 'mainnet-beta', 'localnet']).default('devnet')),
  SOLANA_RPC_URL: optionalUrl,
  SOLANA_WS_URL: optionalUrl,
  // Treasury keypair: a JSON byte array or base58 secret (TREASURY_SECRET_KEY) or a file holding the JSON array.
  TREASURY_SECRET_KEY: optionalString,
  TREASURY_KEYPAIR_PATH: optionalString,

  JOBS_ENABLED: bool(true),

  // Deposits and withdrawals (on-chain in/out of the ledger).
  DEPOSIT_TTL_MINUTES: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1).max(10_080).default(30)),
  // Memberships: minutes an invoice's quoted amount holds (rate_locked_until); the invoice expires then.
  INVOICE_TTL_MINUTES: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1).max(10_080).default(30)),
  // Signed payout transactions tried per withdrawal (each with a fresh blockhash) before it is refunded.
  WITHDRAW_MAX_ATTEMPTS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1).max(20).default(3)),
  // Velocity limits (src/modules/withdrawals/README.md). Seconds between two withdrawal requests of one member.
  WITHDRAW_COOLDOWN_SECONDS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(0).max(86_400).default(30)),
  // A member's withdrawals of a currency within this many hours add up against the approval threshold.
  WITHDRAW_APPROVAL_WINDOW_HOURS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1).max(720).default(24)),
  // Bot-wide payouts per currency per rolling hour; over it payouts wait and operators are alerted. Unlisted = no cap.
  WITHDRAW_HOURLY_CAP: codeAmounts('SOL:1000,USDC:100000'),
  // Operators' log channel (alerts such as a paused payout queue); unset = metric and log line only.
  OPERATOR_LOG_CHANNEL_ID: snowflake,

  // Trust badges. A dedicated issuer key (never the treasury) pays badge rent and fees and can burn/close badges.
  BADGE_ISSUER_SECRET_KEY: optionalString,
  BADGE_ISSUER_KEYPAIR_PATH: optionalString,
  // Changing it makes members accept the new terms before their next mint.
  BADGE_TERMS_VERSION: z.preprocess(emptyToUndefined, z.string().regex(/^[\w.-]{1,32}$/, 'must be 1-32 of letters, digits . _ -').default('2026-11')),
  BADGE_MIN_TIER: z.preprocess(emptyToUndefined, z.enum(['none', 'bronze', 'silver', 'gold', 'platinum']).default('bronze')),
  // Below this the issuer balance alert fires and new mints wait (queued) instead of failing.
  BADGE_ISSUER_MIN_LAMPORTS: z.preprocess(emptyToUndefined, z.coerce.bigint().min(0n).default(50_000_000n)),
  BADGE_MAX_ATTEMPTS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1).max(20).default(3)),


  // Ledger. SOL (9 decimals) is always a currency; LEDGER_TOKENS adds SPL tokens as CODE:MINT:DECIMALS, comma-separated.
  LEDGER_TOKENS: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .default(`USDC:${DEVNET_USDC_MINT}:6`)
      .transform((v, c) => {
        const tokens = v.split(',').map((s) => s.trim()).filter(Boolean).map((entry) => {
          const m = /^([A-Z][A-Z0-9]{1,9}):([1-9A-HJ-NP-Za-km-z]{32,44}):(\d{1,2})$/.exec(entry);
          if (!m || Number(m[3]) > 18) {
            c.addIssue({ code: 'custom', message: `"${entry}" is not CODE:MINT:DECIMALS (e.g. USDC:<base58 mint>:6, decimals 0-18)` });
            return undefined;
          }
          return { code: m[1]!, mint: m[2]!, decimals: Number(m[3]) };
        });
        const codes = tokens.map((t) => t?.code);
        if (codes.includes('SOL')) c.addIssue({ code: 'custom', message: 'SOL is built in; do not list it' });
        if (new Set(codes).size !== codes.length) c.addIssue({ code: 'custom', message: 'a currency code is listed twice' });
        return tokens.filter((t) => t !== undefined);
      }),
  ),
  // Tips above these totals need a Confirm click: CODE:AMOUNT pairs (decimal amounts), comma-separated.
  TIP_CONFIRM_ABOVE: codeAmounts('SOL:10,USDC:1000'),
  // Support tickets. Without a support channel, tickets open as private threads of the channel /ticket runs in.
  TICKETS_SUPPORT_CHANNEL_ID: z.preprocess(emptyToUndefined, z.string().regex(/^\d{15,22}$/, 'must be a snowflake').optional()),
  TICKETS_STAFF_ROLE_ID: z.preprocess(emptyToUndefined, z.string().regex(/^\d{15,22}$/, 'must be a snowflake').optional()),
  TICKETS_CATEGORIES: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .default('general,billing,wallet,bug')
      .transform((v, c) => {
        const list = v.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
        // 5 buttons per row × 5 rows on the panel; names go into custom ids and the category column's CHECK.
        if (list.length === 0 || list.length > 25) c.addIssue({ code: 'custom', message: 'list 1-25 categories' });
        for (const name of list) {
          if (!/^[a-z0-9_-]{1,32}$/.test(name)) c.addIssue({ code: 'custom', message: `"${name}" must be 1-32 of a-z 0-9 _ -` });
        }
        if (new Set(list).size !== list.length) c.addIssue({ code: 'custom', message: 'a category is listed twice' });
        return list;
      }),
  ),
  TICKETS_MAX_OPEN_PER_USER: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1).max(50).default(3)),
  TICKETS_OPEN_COOLDOWN_SECONDS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(0).max(86_400).default(60)),
  TICKETS_AUTO_CLOSE_HOURS: z.preprocess(emptyToUndefined, z.coerce.number().positive().max(8760).default(48)),
  TICKETS_AUTO_CLOSE_WARNING_HOURS: z.preprocess(emptyToUndefined, z.coerce.number().positive().max(8760).default(12)),
  // A ticket row still without its thread this long after it was written was left by a replica that died while
  // opening it; the tickets-unfinished job removes it so it stops counting against the member's limit.
  TICKETS_SETUP_GRACE_SECONDS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(5).max(900).default(120)),
  API_ENVIRONMENT: z.preprocess(emptyToUndefined, z.enum(['dev', 'stage', 'prod']).default('prod')),
  API_FREE_REQUESTS_PER_MONTH: z.preprocess(emptyToUndefined, z.coerce.number().int().min(0).max(1_000_000_000).default(1000)),
  API_BURST_PER_SECOND: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1).max(100_000).default(50)),
  API_FLUSH_MS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(50).max(60_000).default(1000)),

  // Webhooks (issue 16): deliver to loopback/private/link-local addresses too. Only the sandbox and tests need it:
  // in production it would let a partner make the bot POST into our own network (SSRF).
  WEBHOOKS_ALLOW_PRIVATE: bool(false),
}).superRefine((c, ctx) => {
  if (c.SHARD_IDS === undefined) return;
  if (c.SHARD_COUNT === undefined) ctx.addIssue({ code: 'custom', path: ['SHARD_IDS'], message: 'needs SHARD_COUNT (the total across replicas)' });
  else if (c.SHARD_IDS.some((id) => id >= c.SHARD_COUNT!)) {
    ctx.addIssue({ code: 'custom', path: ['SHARD_IDS'], message: `shard ids must be below SHARD_COUNT (${c.SHARD_COUNT})` });
  }
});

export type Config = z.infer<typeof configSchema>;

export class ConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(`Invalid configuration:\n${issues.map((i) => `  - ${i}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export function parseConfig(env: Record<string, string | undefined>): Config {
  const result = configSchema.safeParse(env);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`),
    );
  }
  return result.data;
}

/** Reads process.env; on any bad key prints every problem and exits 1. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  try {
    return parseConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}
