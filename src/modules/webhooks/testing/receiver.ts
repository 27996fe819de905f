import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

// Test support only: a partner's webhook receiver on 127.0.0.1 that checks every request with the standardwebhooks
// package (an implementation independent of ours).

export interface Received {
  id: string;
  body: string;
  headers: Record<string, string>;
  /** Verified by standardwebhooks with the receiver's `secret`. */
  verified: boolean;
}

/** True when the `standardwebhooks` verifier accepts the request under `secret` (within its 5 minute tolerance). */
export function verifies(secret: string, r: Pick<Received, 'body' | 'headers'>): boolean {
  try {
    new Webhook(secret).verify(r.body, r.headers);
    return true;
  } catch {
    return false;
  }
}

const flat = (h: IncomingHttpHeaders) => Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v)]));

/** Answers `status` to requests that verify under `secret`, 401 to others; `hold` leaves requests unanswered. */
export class Receiver {
  server: Server;
  secret = '';
  status = 204;
  /** Requests are recorded but never answered (a receiver that hangs, or a sender killed mid-request). */
  hold = false;
  /** Runs before verifying and answering (a test's hook to act while the request is in flight). */
  onRequest: ((r: Received) => Promise<void> | void) | undefined;
  received: Received[] = [];
  port = 0;
  private held: ServerResponse[] = [];
  constructor() {
    this.server = this.make();
  }
  private make(): Server {
    return createServer((req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const headers = flat(req.headers);
        const got: Received = { id: String(req.headers['webhook-id']), body, headers, verified: false };
        this.received.push(got);
        if (this.hold) {
          got.verified = verifies(this.secret, got);
          this.held.push(res);
          return;
        }
        // Verified after the hook, with the secret configured then (a hook may switch it mid-request).
        void Promise.resolve(this.onRequest?.(got)).then(() => {
          got.verified = verifies(this.secret, got);
          res.statusCode = got.verified ? this.status : 401;
          res.end(got.verified ? 'ok' : 'bad signature');
        });
      });
    });
  }
  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }
  async stop(): Promise<void> {
    for (const res of this.held.splice(0)) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server = this.make();
  }
  get url() {
    return `http://127.0.0.1:${this.port}/hooks`;
  }
}

/** The receivers a test file starts, stopped together in its afterAll. */
export class Receivers {
  private readonly all: Receiver[] = [];
  async start(): Promise<Receiver> {
    const r = new Receiver();
    await r.start();
    this.all.push(r);
    return r;
  }
  async stopAll(): Promise<void> {
    for (const r of this.all.splice(0)) if (r.server.listening) await r.stop();
  }
}
