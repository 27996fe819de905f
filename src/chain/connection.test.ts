import { createServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConnection } from './connection';

// A peer that accepts connections and never answers: the failure mode a timeout exists for.
const sockets = new Set<Socket>();
const silent = createServer((s) => {
  sockets.add(s);
  s.on('close', () => sockets.delete(s));
});
let url: string;

beforeAll(async () => {
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const addr = silent.address();
  url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => silent.close(r));
});

describe('createConnection', () => {
  it('gives up on an RPC node that never answers instead of hanging', async () => {
    const conn = createConnection({ rpcUrl: url, requestTimeoutMs: 300 });
    // Without the limit this never settles (the test would hit vitest's timeout instead).
    await expect(conn.getBlockHeight()).rejects.toThrow(/abort|timeout/i);
  });
});
