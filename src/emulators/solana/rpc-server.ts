import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import type { LedgerState } from './ledger-state';
import { dispatchRpc, RPC_PARSE_ERROR, stringifyRpc, type JsonRpcRequest, type RpcHandler } from './rpc-json';
import { rpcMethods } from './rpc-methods';
import { RpcPubsub } from './rpc-pubsub';

const MAX_BODY_BYTES = 16 * 1024 * 1024;

/**
 * JSON-RPC over HTTP ({@link rpcMethods}) and pubsub over WebSocket ({@link RpcPubsub}) on one loopback port, in
 * front of a {@link LedgerState}. Anything a client asks for that isn't implemented is answered like a node would
 * (-32601 / 404) and also recorded in `failures`, so tests notice gaps instead of silently passing.
 */
export class SolanaRpcServer {
  readonly failures: string[] = [];
  private readonly failNext = new Map<string, number[]>();
  private readonly http: Server;
  private readonly wss: WebSocketServer;
  private readonly pubsub: RpcPubsub;
  private readonly handlers: Record<string, RpcHandler>;

  constructor(ledger: LedgerState) {
    this.handlers = rpcMethods(ledger);
    this.pubsub = new RpcPubsub(ledger, this.failures);
    this.http = createServer((req, res) => void this.onHttp(req, res));
    this.http.keepAliveTimeout = 60_000;
    this.wss = new WebSocketServer({ server: this.http });
    this.wss.on('connection', (ws) => this.pubsub.onSocket(ws));
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<{ rpcUrl: string; wsUrl: string }> {
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, host, () => {
        this.http.off('error', reject);
        resolve();
      });
    });
    const addr = this.http.address() as AddressInfo;
    return { rpcUrl: `http://${host}:${addr.port}`, wsUrl: `ws://${host}:${addr.port}` };
  }

  get subscriptionCount(): number {
    return this.pubsub.subscriptionCount;
  }

  failNextRpc(method: string, status: number): void {
    let queue = this.failNext.get(method);
    if (!queue) this.failNext.set(method, (queue = []));
    queue.push(status);
  }

  async close(): Promise<void> {
    this.pubsub.stop();
    // A normal close (1000) tells web3.js' rpc-websockets client not to reconnect; a hard terminate would
    // leave clients in a reconnect loop logging "ws error" after the emulator is gone.
    const closing = [...this.wss.clients].map(
      (ws) =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            ws.terminate();
            resolve();
          }, 250);
          ws.once('close', () => {
            clearTimeout(timer);
            resolve();
          });
          ws.close(1000, 'emulator shutting down');
        }),
    );
    await Promise.all(closing);
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  private async onHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/health') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      return;
    }
    if (req.method !== 'POST' || path !== '/') {
      this.failures.push(`unknown HTTP route: ${req.method} ${req.url}`);
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found');
      return;
    }
    let body: string;
    try {
      body = await readBody(req);
    } catch {
      res.writeHead(413).end();
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      sendJson(res, { jsonrpc: '2.0', id: null, error: { code: RPC_PARSE_ERROR, message: 'Parse error' } });
      return;
    }
    const requests = Array.isArray(parsed) ? parsed : [parsed];
    for (const r of requests) {
      const method = (r as JsonRpcRequest | null)?.method;
      const queue = typeof method === 'string' ? this.failNext.get(method) : undefined;
      const status = queue?.shift();
      if (status !== undefined) {
        res.writeHead(status, { 'content-type': 'text/plain' }).end(`injected failure for ${String(method)}`);
        return;
      }
    }
    const responses = requests.map((r) => dispatchRpc(r as JsonRpcRequest, this.handlers, this.failures));
    sendJson(res, Array.isArray(parsed) ? responses : responses[0]);
  }
}

function sendJson(res: ServerResponse, value: unknown): void {
  const text = stringifyRpc(value);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
