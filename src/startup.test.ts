import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Kysely } from 'kysely';
import { createServices } from './app';
import { parseConfig } from './config';
import type { DB } from './db/schema';
import { createDb, createPool, ping } from './db/database';
import { freePort } from './db/embedded-postgres';
import { checkEmbeddedPostgres, databaseStartError, explainStartFailure, listenHttp, StartupError } from './startup';

let taken: Server;
let port: number;
beforeAll(async () => {
  port = await freePort();
  taken = createServer();
  await new Promise<void>((resolve) => taken.listen(port, '127.0.0.1', resolve));
});
afterAll(() => void taken.close());

describe('start-up failures name the key to change', () => {
  it('HTTP_PORT in use', async () => {
    const err = await listenHttp({ HTTP_HOST: '127.0.0.1', HTTP_PORT: port }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StartupError);
    expect(explainStartFailure(err)).toBe(`HTTP_PORT ${port} is in use — set HTTP_PORT or stop the other instance`);
  });

  it('PG_PORT in use', async () => {
    const err = await checkEmbeddedPostgres({ PG_DATA_DIR: './.data/does-not-exist', PG_PORT: port }).catch((e: unknown) => e);
    expect(explainStartFailure(err)).toBe(`PG_PORT ${port} is in use — set PG_PORT or stop the other instance`);
    await expect(checkEmbeddedPostgres({ PG_DATA_DIR: './.data/does-not-exist', PG_PORT: await freePort() })).resolves.toBeUndefined();
  });

  it('an unreachable DATABASE_URL, with the password redacted', async () => {
    const url = `postgres://app:secret@127.0.0.1:${await freePort()}/solbound`;
    const db = createDb(createPool(url, 1));
    const err = await ping(db).catch((e: unknown) => databaseStartError(e, { DATABASE_URL: url, PG_PORT: 54329 }));
    await db.destroy();
    const text = explainStartFailure(err);
    expect(text).toMatch(/^cannot reach the database server \(ECONNREFUSED\) at DATABASE_URL postgres:\/\/app:\*\*\*@127\.0\.0\.1:\d+\/solbound — check DATABASE_URL$/);
    expect(text).not.toContain('secret');
  });

  it('a bad treasury key', () => {
    let err: unknown;
    try {
      createServices(undefined as unknown as Kysely<DB>, undefined, parseConfig({ TREASURY_SECRET_KEY: 'not-a-key!' }));
    } catch (e) {
      err = e;
    }
    expect(explainStartFailure(err)).toMatch(/^treasury key .* — check TREASURY_SECRET_KEY \/ TREASURY_KEYPAIR_PATH$/);
  });
});
