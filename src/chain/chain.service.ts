import { clusterApiUrl } from '@solana/web3.js';
import type { Config } from '../config';
import { UserError } from '../errors';
import { createConnection, type ChainConnection } from './connection';
import { getMintInfo, type MintInfo } from './transfers';
import { loadTreasury, type Treasury } from './treasury';

const LOCALNET_RPC = 'http://127.0.0.1:8899';

/**
 * The app's one handle on Solana, built from config: a Connection (RPC + pubsub) and, when a key is configured,
 * the treasury. Without a treasury key the bot still runs; deposits and withdrawals answer that they are off.
 */
export class ChainService {
  readonly connection: ChainConnection;
  readonly rpcUrl: string;
  readonly #treasury: Treasury | null;
  private readonly mints = new Map<string, Promise<MintInfo>>();

  constructor(config: Pick<Config, 'SOLANA_CLUSTER' | 'SOLANA_RPC_URL' | 'SOLANA_WS_URL' | 'TREASURY_SECRET_KEY' | 'TREASURY_KEYPAIR_PATH'>) {
    this.rpcUrl = config.SOLANA_RPC_URL ?? (config.SOLANA_CLUSTER === 'localnet' ? LOCALNET_RPC : clusterApiUrl(config.SOLANA_CLUSTER));
    // web3.js opens no socket and sends no request until first use, so building this is free.
    this.connection = createConnection({ rpcUrl: this.rpcUrl, ...(config.SOLANA_WS_URL ? { wsUrl: config.SOLANA_WS_URL } : {}) });
    // A configured but broken key fails here, at startup, rather than on the first payout.
    this.#treasury =
      config.TREASURY_SECRET_KEY || config.TREASURY_KEYPAIR_PATH
        ? loadTreasury({
            ...(config.TREASURY_SECRET_KEY ? { secret: config.TREASURY_SECRET_KEY } : {}),
            ...(config.TREASURY_KEYPAIR_PATH ? { keypairPath: config.TREASURY_KEYPAIR_PATH } : {}),
          })
        : null;
  }

  get hasTreasury(): boolean {
    return this.#treasury !== null;
  }

  /** The treasury, or a UserError telling the member that on-chain payments are not set up on this bot. */
  treasury(): Treasury {
    if (!this.#treasury) {
      throw new UserError('CHAIN_DISABLED', 'On-chain deposits and withdrawals are not configured on this bot yet.');
    }
    return this.#treasury;
  }

  /** Decimals and token program of a mint, read from chain once per process. */
  mintInfo(mint: string): Promise<MintInfo> {
    let info = this.mints.get(mint);
    if (!info) {
      info = getMintInfo(this.connection, mint);
      // A failed lookup (RPC down) must not be cached.
      info.catch(() => this.mints.delete(mint));
      this.mints.set(mint, info);
    }
    return info;
  }
}
