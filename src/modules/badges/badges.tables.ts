import type { ColumnType } from 'kysely';
import type { CreatedAt, Id, Timestamp } from '../../db/schema';
import type { SignedTxColumns } from '../../db/signed-tx-outbox';

// Kysely view of migrations/2026_11_28_140000_badges.ts.

type NullableTime = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;

/** See README.md for the state machine. */
export type BadgeStatus = 'queued' | 'minting' | 'active' | 'revoking' | 'revoked' | 'burned' | 'failed';
export type BadgeOpKind = 'mint' | 'update' | 'revoke';
export type BadgeOpStatus = 'pending' | 'sent' | 'confirmed' | 'failed' | 'canceled';

export interface VerificationsTable {
  id: Id;
  user_id: bigint;
  terms_version: string;
  accepted_at: Timestamp;
  wallet: string | null;
  verified_at: NullableTime;
  nft_mint: string | null;
}

export interface RatingsTable {
  id: Id;
  rater_id: bigint;
  ratee_id: bigint;
  score: number;
  comment: string | null;
  period: string;
  created_at: CreatedAt;
}

export interface ReputationScoresTable {
  user_id: bigint;
  score: number;
  tier: string;
  components: ColumnType<Record<string, number>, string, string>;
  computed_at: Timestamp;
}

export interface TrustBadgesTable {
  id: Id;
  user_id: bigint;
  wallet: string;
  mint: string | null;
  issuer: string;
  status: ColumnType<BadgeStatus, BadgeStatus | undefined, BadgeStatus>;
  terms_version: string;
  reputation_score: number;
  tier: string;
  chain_reputation: string | null;
  chain_tier: string | null;
  revoke_requested_at: NullableTime;
  revoke_reason: string | null;
  revoked_by: string | null;
  failure_reason: string | null;
  minted_at: NullableTime;
  revoked_at: NullableTime;
  burned_at: NullableTime;
  synced_at: NullableTime;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export interface BadgeChainOpsTable extends SignedTxColumns {
  id: Id;
  badge_id: bigint;
  kind: BadgeOpKind;
  status: ColumnType<BadgeOpStatus, BadgeOpStatus | undefined, BadgeOpStatus>;
  payload: ColumnType<Record<string, string>, string | undefined, string>;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export interface BadgeTables {
  verifications: VerificationsTable;
  ratings: RatingsTable;
  reputation_scores: ReputationScoresTable;
  trust_badges: TrustBadgesTable;
  badge_chain_ops: BadgeChainOpsTable;
}
