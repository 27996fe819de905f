import type { ColumnType, Selectable } from 'kysely';
import type { CreatedAt, Id, Timestamp } from '../../db/schema';

export interface RegistrationNoncesTable {
  id: Id;
  nonce: string;
  user_id: bigint;
  discord_id: string;
  discord_username: string;
  base_url: string;
  interaction_app_id: string | null;
  interaction_token: string | null;
  created_at: CreatedAt;
  expires_at: ColumnType<Date, Date | string, Date | string>;
  used_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  used_address: string | null;
  invalidated_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  /** Failed verifications against this nonce; at NONCE_FAILURE_LIMIT the nonce is burned. */
  failed_attempts: ColumnType<number, number | undefined, number>;
}

/** What `message_data` holds: the exact signed text and how it was signed. */
export interface WalletMessageData {
  /** The exact UTF-8 text the wallet signed (built by the server). */
  message: string;
  /** 'raw' = the text bytes; 'offchain-v0' = wrapped in Solana's off-chain message envelope (CLI). */
  envelope: 'raw' | 'offchain-v0';
  /** Base58 signature. */
  signature: string;
  /** 'page' (link page) or 'command' (/wallet verify). */
  via: 'page' | 'command';
}

export interface WalletRegistrationsTable {
  id: Id;
  user_id: bigint;
  address: string;
  nonce: string;
  verified_at: Timestamp;
  message_data: ColumnType<WalletMessageData, string, string>;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export interface WalletVerifyAttemptsTable {
  id: Id;
  subject: string;
  attempted_at: Timestamp;
}

export interface WalletTables {
  registration_nonces: RegistrationNoncesTable;
  wallet_registrations: WalletRegistrationsTable;
  wallet_verify_attempts: WalletVerifyAttemptsTable;
}

export type RegistrationNonce = Selectable<RegistrationNoncesTable>;
export type WalletRegistration = Selectable<WalletRegistrationsTable>;
