import { Connection, type Commitment } from '@solana/web3.js';

export type ChainConnection = Connection;
export type ChainCommitment = Extract<Commitment, 'processed' | 'confirmed' | 'finalized'>;

export interface ConnectionOptions {
  rpcUrl: string;
  /** Required in practice: web3.js confirms transactions only through the pubsub websocket. */
  wsUrl?: string;
  commitment?: ChainCommitment;
  /**
   * Per-request limit. web3.js sets none, so a node that accepts a connection and never answers would stall the
   * caller (and, for withdrawals, hold that payout's lock) until the process restarts.
   */
  requestTimeoutMs?: number;
}

export const DEFAULT_RPC_TIMEOUT_MS = 30_000;

export function createConnection(opts: ConnectionOptions): ChainConnection {
  return new Connection(opts.rpcUrl, {
    commitment: opts.commitment ?? 'confirmed',
    ...(opts.wsUrl ? { wsEndpoint: opts.wsUrl } : {}),
    fetchMiddleware: (info, init, next) =>
      next(info, { ...init, signal: AbortSignal.timeout(opts.requestTimeoutMs ?? DEFAULT_RPC_TIMEOUT_MS) } as typeof init),
  });
}
