import { Connection, type Commitment } from '@solana/web3.js';

export type ChainConnection = Connection;
export type ChainCommitment = Extract<Commitment, 'processed' | 'confirmed' | 'finalized'>;

export interface ConnectionOptions {
  rpcUrl: string;
  /** Required in practice: web3.js confirms transactions only through the pubsub websocket. */
  wsUrl?: string;
  commitment?: ChainCommitment;
}

export function createConnection(opts: ConnectionOptions): ChainConnection {
  return new Connection(opts.rpcUrl, {
    commitment: opts.commitment ?? 'confirmed',
    ...(opts.wsUrl ? { wsEndpoint: opts.wsUrl } : {}),
  });
}
