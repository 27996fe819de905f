import { WebSocket } from 'ws';
import { encodeAccount, type AccountEncoding, type RawAccount } from './account-codec';
import { COMMITMENT_RANK, parseCommitment, type Commitment, type LedgerState, type TxRecord } from './ledger-state';
import { dispatchRpc, invalidParams, RPC_PARSE_ERROR, stringifyRpc, type JsonRpcRequest, type RpcHandler } from './rpc-json';
import { accountEncoding, cfg, pubkey, str, type Params } from './rpc-params';

type Subscription =
  | { kind: 'signature'; ws: WebSocket; signature: string; commitment: Commitment }
  | { kind: 'account'; ws: WebSocket; pubkey: string; encoding: AccountEncoding }
  | { kind: 'slot'; ws: WebSocket };

/**
 * The pubsub half of the RPC: signature/account/slot subscriptions per WebSocket, notified from the ledger's
 * status, account and slot events. Unknown methods and notifications land in `failures` (shared with HTTP).
 */
export class RpcPubsub {
  private readonly subs = new Map<number, Subscription>();
  private nextSubId = 1;
  private readonly unlisten: (() => void)[];

  constructor(
    private readonly ledger: LedgerState,
    private readonly failures: string[],
  ) {
    this.unlisten = [
      ledger.onStatus((record) => this.notifySignature(record)),
      ledger.onAccount((key) => this.notifyAccount(key)),
      ledger.onSlot((slot) => this.notifySlot(slot)),
    ];
  }

  get subscriptionCount(): number {
    return this.subs.size;
  }

  /** Stops listening to the ledger; sockets are closed by the server. */
  stop(): void {
    for (const off of this.unlisten) off();
  }

  onSocket(ws: WebSocket): void {
    const handlers = this.handlersFor(ws);
    ws.on('message', (raw) => {
      let msg: unknown;
      try {
        msg = JSON.parse(raw.toString());
      } catch {
        send(ws, { jsonrpc: '2.0', id: null, error: { code: RPC_PARSE_ERROR, message: 'Parse error' } });
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
        const response = dispatchRpc(req, handlers, this.failures);
        send(ws, response);
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

  private handlersFor(ws: WebSocket): Record<string, RpcHandler> {
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
      send(sub.ws, {
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
      send(sub.ws, {
        jsonrpc: '2.0',
        method: 'accountNotification',
        params: { result: { context: { slot: this.ledger.slot }, value }, subscription: id },
      });
    }
  }

  private notifySlot(slot: number): void {
    for (const [id, sub] of this.subs) {
      if (sub.kind !== 'slot') continue;
      send(sub.ws, {
        jsonrpc: '2.0',
        method: 'slotNotification',
        params: { result: { parent: slot - 1, root: Math.max(0, slot - 32), slot }, subscription: id },
      });
    }
  }
}

function send(ws: WebSocket, value: unknown): void {
  if (ws.readyState === WebSocket.OPEN) ws.send(stringifyRpc(value));
}
