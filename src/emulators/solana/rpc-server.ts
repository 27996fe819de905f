import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import bs58 from 'bs58';
import { WebSocketServer, WebSocket } from 'ws';
import {
  decodeMint,
  decodeTokenAccount,
  encodeAccount,
  isTokenProgram,
  uiTokenAmount,
  type AccountEncoding,
  type RawAccount,
} from './account-codec';
import { formatMemos, parseInstruction } from './instruction-parser';
import { COMMITMENT_RANK, parseCommitment, type Commitment, type LedgerState, type TxRecord } from './ledger-state';
import {
  invalidParams,
  RpcError,
  RPC_INVALID_REQUEST,
  RPC_METHOD_NOT_FOUND,
  RPC_PARSE_ERROR,
  RPC_UNSUPPORTED_TX_VERSION,
  stringifyRpc,
} from './rpc-json';

const API_VERSION = '2.2.0';
const GENESIS_HASH = '5eykt4UsFv8P8NJdTREpY1vzqKqZKvdpKuc147dw2N9d';
const MAX_BODY_BYTES = 16 * 1024 * 1024;

type Params = unknown[];
type Handler = (params: Params) => unknown;

type Subscription =
  | { kind: 'signature'; ws: WebSocket; signature: string; commitment: Commitment }
  | { kind: 'account'; ws: WebSocket; pubkey: string; encoding: AccountEncoding }
  | { kind: 'slot'; ws: WebSocket };

interface JsonRpcRequest {
  jsonrpc?: unknown;
  id?: unknown;
  method?: unknown;
  params?: unknown;
}

/**
 * JSON-RPC over HTTP and pubsub over WebSocket on one loopback port, in front of a {@link LedgerState}.
 * Anything a client asks for that isn't implemented is answered like a node would (-32601 / 404) and also
 * recorded in `failures`, so tests notice gaps instead of silently passing.
 */
export class SolanaRpcServer {
  readonly failures: string[] = [];
  private readonly failNext = new Map<string, number[]>();
  private readonly http: Server;
  private readonly wss: WebSocketServer;
  private readonly subs = new Map<number, Subscription>();
  private nextSubId = 1;
  private readonly handlers: Record<string, Handler>;
  private readonly unlisten: (() => void)[] = [];

  constructor(private readonly ledger: LedgerState) {
    this.handlers = this.buildHandlers();
    this.http = createServer((req, res) => void this.onHttp(req, res));
    this.http.keepAliveTimeout = 60_000;
    this.wss = new WebSocketServer({ server: this.http });
    this.wss.on('connection', (ws) => this.onSocket(ws));
    this.unlisten.push(
      ledger.onStatus((record) => this.notifySignature(record)),
      ledger.onAccount((key) => this.notifyAccount(key)),
      ledger.onSlot((slot) => this.notifySlot(slot)),
    );
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
    return this.subs.size;
  }

  failNextRpc(method: string, status: number): void {
    let queue = this.failNext.get(method);
    if (!queue) this.failNext.set(method, (queue = []));
    queue.push(status);
  }

  async close(): Promise<void> {
    for (const off of this.unlisten) off();
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

  // ---- HTTP ---------------------------------------------------------------------------------------------
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
      this.sendJson(res, { jsonrpc: '2.0', id: null, error: { code: RPC_PARSE_ERROR, message: 'Parse error' } });
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
    const responses = requests.map((r) => this.dispatch(r as JsonRpcRequest, this.handlers));
    this.sendJson(res, Array.isArray(parsed) ? responses : responses[0]);
  }

  private sendJson(res: ServerResponse, value: unknown): void {
    const text = stringifyRpc(value);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
  }

  private dispatch(req: JsonRpcRequest, handlers: Record<string, Handler>): Record<string, unknown> {
    const id = req?.id ?? null;
    if (!req || typeof req !== 'object' || typeof req.method !== 'string') {
      return { jsonrpc: '2.0', id, error: { code: RPC_INVALID_REQUEST, message: 'Invalid request' } };
    }
    const handler = Object.hasOwn(handlers, req.method) ? handlers[req.method] : undefined;
    if (!handler) {
      this.failures.push(`unknown RPC method: ${req.method}`);
      return { jsonrpc: '2.0', id, error: { code: RPC_METHOD_NOT_FOUND, message: 'Method not found' } };
    }
    const params = Array.isArray(req.params) ? req.params : req.params === undefined || req.params === null ? [] : [req.params];
    try {
      return { jsonrpc: '2.0', id, result: handler(params) };
    } catch (e) {
      if (e instanceof RpcError) {
        return { jsonrpc: '2.0', id, error: { code: e.code, message: e.message, ...(e.data === undefined ? {} : { data: e.data }) } };
      }
      // An exception here is an emulator bug, not a client mistake: make it fail the test.
      this.failures.push(`internal error in ${req.method}: ${(e as Error).stack ?? String(e)}`);
      return { jsonrpc: '2.0', id, error: { code: -32603, message: `Internal error: ${(e as Error).message}` } };
    }
  }

  // ---- WebSocket ----------------------------------------------------------------------------------------
  private onSocket(ws: WebSocket): void {
    const handlers = this.pubsubHandlers(ws);
    ws.on('message', (raw) => {
      let msg: unknown;
      try {
        msg = JSON.parse(raw.toString());
      } catch {
        this.send(ws, { jsonrpc: '2.0', id: null, error: { code: RPC_PARSE_ERROR, message: 'Parse error' } });
        return;
      }
      const batch = Array.isArray(msg) ? msg : [msg];
      for (const m of batch) {
        const req = m as JsonRpcRequest;
        if (req?.id === undefined || req.id === null) {
          // Notifications get no reply; web3.js sends `ping` as a keep-alive.
          if (req?.method !== 'ping') this.failures.push(`unknown pubsub notification: ${String(req?.method)}`);
          continue;
        }
        const response = this.dispatch(req, handlers);
        this.send(ws, response);
        if (typeof response.result === 'number' && typeof req.method === 'string' && req.method.endsWith('Subscribe')) {
          this.afterSubscribe(response.result);
        }
      }
    });
    ws.on('close', () => {
      for (const [id, sub] of this.subs) if (sub.ws === ws) this.subs.delete(id);
    });
    ws.on('error', () => ws.terminate());
  }

  private send(ws: WebSocket, value: unknown): void {
    if (ws.readyState === WebSocket.OPEN) ws.send(stringifyRpc(value));
  }

  private pubsubHandlers(ws: WebSocket): Record<string, Handler> {
    const subscribe = (sub: Subscription) => {
      const id = this.nextSubId++;
      this.subs.set(id, sub);
      return id;
    };
    const unsubscribe = (kind: Subscription['kind']) => (params: Params) => {
      const id = Number(params[0]);
      const sub = this.subs.get(id);
      if (!sub || sub.kind !== kind || sub.ws !== ws) throw invalidParams('Invalid subscription id.');
      this.subs.delete(id);
      return true;
    };
    return {
      signatureSubscribe: (p) =>
        subscribe({ kind: 'signature', ws, signature: str(p, 0, 'signature'), commitment: parseCommitment(cfg(p, 1).commitment) }),
      signatureUnsubscribe: unsubscribe('signature'),
      accountSubscribe: (p) =>
        subscribe({ kind: 'account', ws, pubkey: pubkey(p, 0), encoding: accountEncoding(cfg(p, 1).encoding, 'base64') }),
      accountUnsubscribe: unsubscribe('account'),
      slotSubscribe: () => subscribe({ kind: 'slot', ws }),
      slotUnsubscribe: unsubscribe('slot'),
    };
  }

  // A tx that already reached the wanted commitment before the client subscribed is reported right away;
  // web3.js also double-checks with getSignatureStatuses, but this avoids relying on that.
  private afterSubscribe(id: number): void {
    const sub = this.subs.get(id);
    if (sub?.kind !== 'signature') return;
    const record = this.ledger.getRecord(sub.signature);
    if (record) this.notifySignature(record);
  }

  private notifySignature(record: TxRecord): void {
    for (const [id, sub] of this.subs) {
      if (sub.kind !== 'signature' || sub.signature !== record.signature) continue;
      if (COMMITMENT_RANK[record.status] < COMMITMENT_RANK[sub.commitment]) continue;
      this.subs.delete(id);
      this.send(sub.ws, {
        jsonrpc: '2.0',
        method: 'signatureNotification',
        params: { result: { context: { slot: record.slot }, value: { err: record.err } }, subscription: id },
      });
    }
  }

  private notifyAccount(key: string): void {
    let account: RawAccount | null | undefined;
    for (const [id, sub] of this.subs) {
      if (sub.kind !== 'account' || sub.pubkey !== key) continue;
      if (account === undefined) account = this.ledger.getAccount(key);
      const value = account
        ? encodeAccount(account, sub.encoding, this.ledger.mintDecimals)
        : { data: ['', 'base64'], executable: false, lamports: 0, owner: '11111111111111111111111111111111', rentEpoch: 0, space: 0 };
      this.send(sub.ws, {
        jsonrpc: '2.0',
        method: 'accountNotification',
        params: { result: { context: { slot: this.ledger.slot }, value }, subscription: id },
      });
    }
  }

  private notifySlot(slot: number): void {
    for (const [id, sub] of this.subs) {
      if (sub.kind !== 'slot') continue;
      this.send(sub.ws, {
        jsonrpc: '2.0',
        method: 'slotNotification',
        params: { result: { parent: slot - 1, root: Math.max(0, slot - 32), slot }, subscription: id },
      });
    }
  }

  // ---- JSON-RPC methods ---------------------------------------------------------------------------------
  private buildHandlers(): Record<string, Handler> {
    const L = this.ledger;
    const ctx = () => ({ slot: L.slot, apiVersion: API_VERSION });
    const withCtx = (value: unknown) => ({ context: ctx(), value });
    const encodeOrNull = (key: string, c: Record<string, unknown>) => {
      const acct = L.getAccount(key);
      return acct ? encodeAccount(acct, accountEncoding(c.encoding, 'base58'), L.mintDecimals, dataSlice(c.dataSlice)) : null;
    };

    return {
      getHealth: () => 'ok',
      getVersion: () => ({ 'solana-core': API_VERSION, 'feature-set': 3294202862 }),
      getGenesisHash: () => GENESIS_HASH,
      getSlot: () => L.slot,
      getBlockHeight: () => L.blockHeight,
      getEpochInfo: () => ({
        absoluteSlot: L.slot,
        blockHeight: L.blockHeight,
        epoch: Math.floor(L.slot / 432_000),
        slotIndex: L.slot % 432_000,
        slotsInEpoch: 432_000,
        transactionCount: null,
      }),
      getLatestBlockhash: () => withCtx(L.issueBlockhash()),
      isBlockhashValid: (p) => withCtx(L.isBlockhashValid(str(p, 0, 'blockhash'))),
      getRecentPrioritizationFees: () => [],
      getMinimumBalanceForRentExemption: (p) => L.minimumBalanceForRentExemption(Number(p[0] ?? 0)),

      getFeeForMessage: (p) => {
        const bytes = Buffer.from(str(p, 0, 'message'), 'base64');
        // Byte 0 is the header of a legacy message, or the 0x80 version prefix followed by the header.
        const numSigners = (bytes[0] ?? 0) & 0x80 ? (bytes[1] ?? 0) : (bytes[0] ?? 0);
        return withCtx(BigInt(numSigners) * 5000n);
      },

      sendTransaction: (p) => {
        const c = cfg(p, 1);
        const wire = decodeWire(str(p, 0, 'transaction'), c.encoding, 'base58');
        return L.submit(wire, { skipPreflight: c.skipPreflight === true });
      },

      simulateTransaction: (p) => {
        const c = cfg(p, 1);
        const wire = decodeWire(str(p, 0, 'transaction'), c.encoding, 'base58');
        const sigVerify = c.sigVerify === true;
        const replaceRecentBlockhash = c.replaceRecentBlockhash === true;
        if (sigVerify && replaceRecentBlockhash) throw invalidParams('sigVerify may not be used with replaceRecentBlockhash');
        const accountsCfg = c.accounts as { addresses?: unknown; encoding?: unknown } | undefined;
        const addresses = Array.isArray(accountsCfg?.addresses) ? accountsCfg.addresses.map(String) : undefined;
        const sim = L.simulate(wire, { sigVerify, replaceRecentBlockhash, ...(addresses ? { accounts: addresses } : {}) });
        const encoding = accountEncoding(accountsCfg?.encoding, 'base64');
        return withCtx({
          err: sim.err,
          logs: sim.logs,
          accounts: sim.accounts ? sim.accounts.map((a) => (a ? encodeAccount(a, encoding, L.mintDecimals) : null)) : null,
          unitsConsumed: sim.unitsConsumed,
          returnData: null,
          innerInstructions: null,
          replacementBlockhash: sim.replacementBlockhash ?? null,
        });
      },

      requestAirdrop: (p) => {
        const lamports = p[1];
        if (typeof lamports !== 'number' && typeof lamports !== 'string') throw invalidParams('lamports');
        return L.requestAirdrop(pubkey(p, 0), BigInt(lamports));
      },

      getSignatureStatuses: (p) => {
        const sigs = p[0];
        if (!Array.isArray(sigs) || sigs.length > 256) throw invalidParams('expected up to 256 signatures');
        return withCtx(
          sigs.map((s) => {
            const record = L.getRecord(String(s));
            if (!record) return null;
            return {
              slot: record.slot,
              confirmations: record.status === 'finalized' ? null : record.status === 'confirmed' ? 1 : 0,
              err: record.err,
              status: record.err === null ? { Ok: null } : { Err: record.err },
              confirmationStatus: record.status,
            };
          }),
        );
      },

      getBalance: (p) => withCtx(L.getAccount(pubkey(p, 0))?.lamports ?? 0n),
      getAccountInfo: (p) => withCtx(encodeOrNull(pubkey(p, 0), cfg(p, 1))),
      getMultipleAccounts: (p) => {
        const keys = p[0];
        if (!Array.isArray(keys) || keys.length > 100) throw invalidParams('expected up to 100 pubkeys');
        const c = cfg(p, 1);
        return withCtx(keys.map((_, i) => encodeOrNull(pubkey(keys, i), c)));
      },

      getTokenAccountsByOwner: (p) => {
        const owner = pubkey(p, 0);
        const filter = cfg(p, 1);
        const c = cfg(p, 2);
        let programs: string[];
        let mint: string | undefined;
        if (typeof filter.mint === 'string') {
          mint = filter.mint;
          const mintAccount = L.getAccount(mint);
          if (!mintAccount || !isTokenProgram(mintAccount.owner)) throw invalidParams('Invalid param: could not find mint');
          programs = [mintAccount.owner];
        } else if (typeof filter.programId === 'string') {
          if (!isTokenProgram(filter.programId)) throw invalidParams('Invalid param: unrecognized Token program id');
          programs = [filter.programId];
        } else {
          throw invalidParams('expected a mint or programId filter');
        }
        const encoding = accountEncoding(c.encoding, 'base58');
        const value = programs.flatMap((program) =>
          L.getProgramAccounts(program)
            .filter(({ account }) => {
              const t = decodeTokenAccount(account);
              return t !== null && t.owner === owner && (mint === undefined || t.mint === mint);
            })
            .map(({ pubkey: key, account }) => ({ pubkey: key, account: encodeAccount(account, encoding, L.mintDecimals) })),
        );
        return withCtx(value);
      },

      getTokenAccountBalance: (p) => {
        const acct = L.getAccount(pubkey(p, 0));
        const token = acct ? decodeTokenAccount(acct) : null;
        if (!token) throw invalidParams('Invalid param: not a Token account');
        return withCtx(uiTokenAmount(token.amount, L.mintDecimals(token.mint) ?? 0));
      },

      getTokenSupply: (p) => {
        const acct = L.getAccount(pubkey(p, 0));
        const mint = acct ? decodeMint(acct) : null;
        if (!mint) throw invalidParams('Invalid param: not a Token mint');
        return withCtx(uiTokenAmount(mint.supply, mint.decimals));
      },

      getSignaturesForAddress: (p) => {
        const addr = pubkey(p, 0);
        const c = cfg(p, 1);
        const limit = c.limit === undefined || c.limit === null ? 1000 : Number(c.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw invalidParams('Invalid limit; max 1000');
        const commitment = atLeastConfirmed(c.commitment);
        const all = L.signaturesFor(addr);
        const out: Record<string, unknown>[] = [];
        let started = typeof c.before !== 'string';
        for (let i = all.length - 1; i >= 0 && out.length < limit; i--) {
          const sig = all[i]!;
          if (!started) {
            if (sig === c.before) started = true;
            continue;
          }
          if (sig === c.until) break;
          const record = L.getRecord(sig)!;
          if (COMMITMENT_RANK[record.status] < COMMITMENT_RANK[commitment]) continue;
          out.push({
            signature: sig,
            slot: record.slot,
            err: record.err,
            memo: formatMemos(record.memos),
            blockTime: record.blockTime,
            confirmationStatus: record.status,
          });
        }
        return out;
      },

      getTransaction: (p) => {
        const sig = str(p, 0, 'signature');
        const c = cfg(p, 1);
        const record = L.getRecord(sig);
        if (!record || COMMITMENT_RANK[record.status] < COMMITMENT_RANK[atLeastConfirmed(c.commitment)]) return null;
        const maxVersion = c.maxSupportedTransactionVersion;
        if (record.version === 0 && (maxVersion === undefined || maxVersion === null)) {
          throw new RpcError(
            RPC_UNSUPPORTED_TX_VERSION,
            'Transaction version (0) is not supported by the requesting client. Please try the request again with the following configuration parameter: "maxSupportedTransactionVersion": 0',
          );
        }
        const encoding = typeof c.encoding === 'string' ? c.encoding : 'json';
        return {
          slot: record.slot,
          blockTime: record.blockTime,
          ...(maxVersion === undefined || maxVersion === null ? {} : { version: record.version }),
          transaction: this.encodeTransaction(record, encoding),
          meta: this.encodeMeta(record, encoding === 'jsonParsed'),
        };
      },
    };
  }

  private encodeTransaction(record: TxRecord, encoding: string): unknown {
    if (encoding === 'base64') return [Buffer.from(record.wire).toString('base64'), 'base64'];
    if (encoding === 'base58') return [bs58.encode(record.wire), 'base58'];
    if (encoding !== 'json' && encoding !== 'jsonParsed') throw invalidParams(`unsupported encoding ${encoding}`);
    const m = record.message;
    const lookups = record.version === 0 ? { addressTableLookups: [] } : {};
    if (encoding === 'json') {
      return {
        signatures: record.signatures,
        message: {
          accountKeys: record.accountKeys,
          header: {
            numRequiredSignatures: m.header.numSignerAccounts,
            numReadonlySignedAccounts: m.header.numReadonlySignerAccounts,
            numReadonlyUnsignedAccounts: m.header.numReadonlyNonSignerAccounts,
          },
          recentBlockhash: m.lifetimeToken,
          instructions: record.instructions.map((ix) => ({
            programIdIndex: ix.programIdIndex,
            accounts: ix.accountIndices,
            data: bs58.encode(ix.data),
            stackHeight: null,
          })),
          ...lookups,
        },
      };
    }
    return {
      signatures: record.signatures,
      message: {
        accountKeys: record.accountKeys.map((k, i) => ({
          pubkey: k,
          signer: record.signer[i],
          source: 'transaction',
          writable: record.writable[i],
        })),
        recentBlockhash: m.lifetimeToken,
        instructions: record.instructions.map((ix) => parseInstruction(ix)),
        ...lookups,
      },
    };
  }

  private encodeMeta(record: TxRecord, parsed: boolean): Record<string, unknown> {
    return {
      err: record.err,
      status: record.err === null ? { Ok: null } : { Err: record.err },
      fee: record.fee,
      preBalances: record.preBalances,
      postBalances: record.postBalances,
      innerInstructions: record.innerInstructions.map((set) => ({
        index: set.index,
        instructions: set.instructions.map((ix) =>
          parsed
            ? parseInstruction(ix)
            : { programIdIndex: ix.programIdIndex, accounts: ix.accountIndices, data: bs58.encode(ix.data), stackHeight: ix.stackHeight },
        ),
      })),
      logMessages: record.logs,
      preTokenBalances: record.preTokenBalances,
      postTokenBalances: record.postTokenBalances,
      rewards: [],
      loadedAddresses: { writable: [], readonly: [] },
      computeUnitsConsumed: record.computeUnits,
    };
  }
}

// ---- param helpers --------------------------------------------------------------------------------------
function str(p: Params, i: number, name: string): string {
  const v = p[i];
  if (typeof v !== 'string') throw invalidParams(`expected ${name} string at position ${i}`);
  return v;
}

function pubkey(p: Params, i: number): string {
  const v = str(p, i, 'pubkey');
  let bytes: Uint8Array;
  try {
    bytes = bs58.decode(v);
  } catch {
    throw invalidParams('Invalid param: Invalid');
  }
  if (bytes.length !== 32) throw invalidParams('Invalid param: WrongSize');
  return v;
}

function cfg(p: Params, i: number): Record<string, unknown> {
  const v = p[i];
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function accountEncoding(value: unknown, fallback: AccountEncoding): AccountEncoding {
  if (value === undefined || value === null) return fallback;
  if (value === 'base58' || value === 'base64' || value === 'jsonParsed') return value;
  if (value === 'binary') return 'base58';
  throw invalidParams(`unsupported encoding ${String(value)}`);
}

function dataSlice(value: unknown): { offset: number; length: number } | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const { offset, length } = value as { offset?: unknown; length?: unknown };
  return { offset: Number(offset ?? 0), length: Number(length ?? 0) };
}

function decodeWire(text: string, encoding: unknown, fallback: 'base58' | 'base64'): Uint8Array {
  const enc = encoding ?? fallback;
  try {
    if (enc === 'base64') return new Uint8Array(Buffer.from(text, 'base64'));
    if (enc === 'base58') return bs58.decode(text);
  } catch {
    throw invalidParams(`invalid ${String(enc)} transaction`);
  }
  throw invalidParams(`unsupported encoding ${String(enc)}`);
}

// getTransaction / getSignaturesForAddress refuse `processed` on a real node; treat it as `confirmed`.
function atLeastConfirmed(value: unknown): Commitment {
  const c = parseCommitment(value);
  return c === 'processed' ? 'confirmed' : c;
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

