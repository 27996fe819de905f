import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from './config';

describe('config', () => {
  it('has working defaults for an empty environment (sandbox mode)', () => {
    const c = parseConfig({});
    expect(c.DATABASE_URL).toBeUndefined();
    expect(c.DISCORD_TOKEN).toBeUndefined();
    expect(c.HTTP_PORT).toBe(3000);
    expect(c.PG_DATA_DIR).toBe('./.data/pg');
    expect(c.MIGRATE_ON_START).toBe(true);
  });

  it('treats empty strings as unset', () => {
    expect(parseConfig({ DATABASE_URL: '', HTTP_PORT: ' ' }).HTTP_PORT).toBe(3000);
  });

  it('BOT_OPERATOR_IDS: comma-separated Discord ids, deduplicated; anything else is named', () => {
    expect(parseConfig({}).BOT_OPERATOR_IDS).toEqual([]);
    expect(parseConfig({ BOT_OPERATOR_IDS: ' 100000000000000001,100000000000000002 ,100000000000000001' }).BOT_OPERATOR_IDS).toEqual([
      '100000000000000001',
      '100000000000000002',
    ]);
    expect(() => parseConfig({ BOT_OPERATOR_IDS: '100000000000000001,@alice' })).toThrow(/BOT_OPERATOR_IDS: "@alice" is not a Discord user id/);
  });

  it('names every bad key at once', () => {
    let err: unknown;
    try {
      parseConfig({ HTTP_PORT: 'abc', DATABASE_URL: 'not a url', LOG_LEVEL: 'loud', ADMIN_TOKEN: 'short' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const issues = (err as ConfigError).issues.join('\n');
    for (const key of ['HTTP_PORT', 'DATABASE_URL', 'LOG_LEVEL', 'ADMIN_TOKEN']) expect(issues).toContain(key);
  });

  it('reads SHARD_IDS as ids and ranges below SHARD_COUNT, and refuses a list that cannot split the shards', () => {
    expect(parseConfig({ SHARD_COUNT: '8', SHARD_IDS: '0-2, 5' })).toMatchObject({ SHARD_COUNT: 8, SHARD_IDS: [0, 1, 2, 5] });
    expect(parseConfig({ SHARD_COUNT: '4' }).SHARD_IDS).toBeUndefined();
    const issues = (env: Record<string, string>) => {
      try {
        parseConfig(env);
        return [];
      } catch (err) {
        return (err as ConfigError).issues;
      }
    };
    expect(issues({ SHARD_IDS: '0' })).toEqual(['SHARD_IDS: needs SHARD_COUNT (the total across replicas)']);
    expect(issues({ SHARD_COUNT: '4', SHARD_IDS: '2-4' })).toEqual(['SHARD_IDS: shard ids must be below SHARD_COUNT (4)']);
    expect(issues({ SHARD_COUNT: '4', SHARD_IDS: '1,1' })).toEqual(['SHARD_IDS: a shard id is listed twice']);
    expect(issues({ SHARD_COUNT: '4', SHARD_IDS: '3-1' })).toEqual(['SHARD_IDS: "3-1" is not a shard id or a range like 0-3']);
    expect(issues({ SHARD_COUNT: '0' })[0]).toMatch(/^SHARD_COUNT:/);
  });

  it('`npm start` with a bad value exits 1 naming the key, before touching the database', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: { ...process.env, HTTP_PORT: 'seventy', PG_PORT: '-5' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('HTTP_PORT');
    expect(r.stderr).toContain('PG_PORT');
  });
});

describe('.env.example', () => {
  it('documents exactly the keys the schema reads', async () => {
    const { readFileSync } = await import('node:fs');
    const { configSchema } = await import('./config');
    const documented = readFileSync(new URL('../.env.example', import.meta.url), 'utf8')
      .split('\n')
      .map((l) => /^([A-Z][A-Z0-9_]*)=/.exec(l)?.[1])
      .filter((k): k is string => Boolean(k))
      .sort();
    expect(documented).toEqual(Object.keys(configSchema.shape).sort());
  });
});
