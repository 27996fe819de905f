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
  MIGRATE_ON_START: bool(true),

  // HTTP server: health, metrics, admin API and the wallet-link page.
  HTTP_HOST: z.preprocess(emptyToUndefined, z.string().default('127.0.0.1')),
  HTTP_PORT: port(3000),
  PUBLIC_URL: optionalUrl,
  ADMIN_TOKEN: z.preprocess(emptyToUndefined, z.string().min(24, 'must be at least 24 characters').optional()),

  // Discord. Without DISCORD_TOKEN, `npm start` runs the sandbox against the loopback emulator.
  DISCORD_TOKEN: optionalString,
  DISCORD_APP_ID: z.preprocess(emptyToUndefined, z.string().regex(/^\d{15,22}$/, 'must be a snowflake').optional()),
  DISCORD_API_URL: optionalUrl,
  DISCORD_GUILD_ID: z.preprocess(emptyToUndefined, z.string().regex(/^\d{15,22}$/, 'must be a snowflake').optional()),

  // Solana. Without DISCORD_TOKEN the sandbox points these at the loopback Solana emulator.
  SOLANA_CLUSTER: z.preprocess(emptyToUndefined, z.enum(['devnet', 'testnet', 'mainnet-beta', 'localnet']).default('devnet')),
  SOLANA_RPC_URL: optionalUrl,
  SOLANA_WS_URL: optionalUrl,
  // Treasury keypair: a JSON byte array or base58 secret (TREASURY_SECRET_KEY) or a file holding the JSON array.
  TREASURY_SECRET_KEY: optionalString,
  TREASURY_KEYPAIR_PATH: optionalString,

  JOBS_ENABLED: bool(true),
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
