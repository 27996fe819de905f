import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

// Test support only. A loopback JSON-RPC proxy between a worker process and the Solana emulator: it forwards
// everything, except that chosen calls are held open without an answer. A worker blocked in such a call sits
// in a known step of the outbox, where the test can kill it — observed from outside, no hooks in product code.

export interface HoldRule {
  /** Calls of the method let through before holding starts (default 0). */
  after?: number;
  /** Deliver the call to the emulator, then withhold the answer (the effect happened, the caller never hears). */
  forward?: boolean;
}

export interface RpcGate {
  readonly url: string;
  /** Holds calls of `method` from now on (after `rule.after` more of them pass). */
  hold(method: string, rule?: HoldRule): void;
  /** Calls of `method` seen since the last reset, and how many of them are being held. */
  calls(method: string): number;
  held(method: string): number;
  /** Forgets rules and counts; calls held so far stay unanswered (their caller is expected to be dead). */
  reset(): void;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function methodOf(body: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(body);
    const first: unknown = Array.isArray(parsed) ? parsed[0] : parsed;
    const method = (first as { method?: unknown } | null)?.method;
    return typeof method === 'string' ? method : undefined;
  } catch {
    return undefined;
  }
}

export async function startRpcGate(upstream: string): Promise<RpcGate> {
  let rules = new Map<string, Required<HoldRule>>();
  let calls = new Map<string, number>();
  let held = new Map<string, number>();
  const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);

  const server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const method = methodOf(body) ?? '?';
      const seen = (calls.get(method) ?? 0) + 1;
      calls.set(method, seen);
      const rule = rules.get(method);
      const hold = rule !== undefined && seen > rule.after;
      if (hold && !rule.forward) {
        bump(held, method);
        return;
      }
      const answer = await fetch(upstream, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      const text = await answer.text();
      if (hold) {
        bump(held, method);
        return;
      }
      res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' }).end(text);
    })().catch(() => {
      if (!res.headersSent) res.writeHead(502).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    hold: (method, rule = {}) => {
      rules.set(method, { after: (calls.get(method) ?? 0) + (rule.after ?? 0), forward: rule.forward ?? false });
    },
    calls: (method) => calls.get(method) ?? 0,
    held: (method) => held.get(method) ?? 0,
    reset: () => {
      rules = new Map();
      calls = new Map();
      held = new Map();
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
