import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../testing/test-db';
import { createDb, createPool, withDatabase } from './database';
import { freePort } from './embedded-postgres';
import { waitForDatabase } from './wait-for-database';

// Start-up against a PostgreSQL server that is still (re)starting: a TCP proxy in front of the test server that
// starts listening late stands in for it.

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await t?.drop();
});

function proxyTo(url: string): Server {
  const target = new URL(url);
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => s.destroy());
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
  });
  server.on('close', () => sockets.forEach((s) => s.destroy()));
  return server;
}

describe('waitForDatabase', () => {
  it('waits out a server that is not listening yet, then answers', async () => {
    const port = await freePort();
    const url = new URL(t.url);
    url.port = String(port);
    const db = createDb(createPool(url.toString(), 1));
    const proxy = proxyTo(t.url);
    const retries: string[] = [];
    setTimeout(() => proxy.listen(port, '127.0.0.1'), 400);
    try {
      await waitForDatabase(db, { timeoutMs: 10_000, onRetry: (err) => retries.push((err as { code?: string }).code ?? '') });
      expect(retries.length).toBeGreaterThan(0);
      expect(new Set(retries)).toEqual(new Set(['ECONNREFUSED']));
    } finally {
      await db.destroy();
      proxy.close();
    }
  });

  it('gives up after its timeout with the connection error', async () => {
    const db = createDb(createPool(`postgres://app:x@127.0.0.1:${await freePort()}/solbound`, 1));
    let retries = 0;
    const err = await waitForDatabase(db, { timeoutMs: 500, onRetry: () => void retries++ }).catch((e: unknown) => e);
    await db.destroy();
    expect(err).toMatchObject({ code: 'ECONNREFUSED' });
    expect(retries).toBeGreaterThan(0);
  });

  it('a missing database is not retried (retrying cannot fix it)', async () => {
    const db = createDb(createPool(withDatabase(t.url, 'no_such_database_here'), 1));
    let retries = 0;
    const err = await waitForDatabase(db, { timeoutMs: 10_000, onRetry: () => void retries++ }).catch((e: unknown) => e);
    await db.destroy();
    expect(err).toMatchObject({ code: '3D000' });
    expect(retries).toBe(0);
  });
});
