import type { ColumnType, Generated } from 'kysely';
import type { CreatedAt, Id, Timestamp } from '../../db/schema';

// Kysely view of migrations/2026_11_23_001000_ledger.ts (+ 001010 tip_settings, 140000 tips.guild_id, 2026_11_28_000100
// ledger_scale: tips is a view over journal, balance_credits, account_balances, tip_totals_daily). Amounts are NUMERIC(39,0) base units, read as bigint.

type Amount = ColumnType<bigint, bigint | string, bigint | string>;

export type JournalType =
  | 'tip'
  | 'rain'
  | 'admin_credit'
  | 'airdrop_escrow'
  | 'airdrop_claim'
  | 'airdrop_refund'
  // On-chain flows (deposits/withdrawals modules; allowed by migration 2026_11_23_004000).
  | 'deposit'
  | 'withdrawal'
  | 'withdrawal_refund'
  // Memberships (billing module; allowed by migration 2026_11_28_170000): member → guild revenue, back, and an
  // on-chain invoice payment arriving in the member's balance.
  | 'subscription_payment'
  | 'subscription_refund'
  | 'invoice_deposit';
export type JournalStatus = 'pending' | 'completed' | 'failed' | 'reversed';
export type TipKind = 'tip' | 'rain';
export type AirdropStatus = 'open' | 'completed' | 'expired';
export type ConfirmationStatus = 'pending' | 'confirmed' | 'canceled';

export interface BalancesTable {
  id: Id;
  user_id: bigint;
  currency: string;
  amount: ColumnType<bigint, bigint | string | undefined, bigint | string>;
  created_at: CreatedAt;
}

export interface JournalTable {
  id: Id;
  type: JournalType;
  from_user_id: bigint | null;
  to_user_id: bigint | null;
  amount: Amount;
  currency: string;
  status: ColumnType<JournalStatus, JournalStatus | undefined, JournalStatus>;
  idempotency_key: string;
  ref: string | null;
  created_at: CreatedAt;
  /** Tip and rain legs only (migration 2026_11_28_000100): the tip's note and the guild it was sent in. */
  note: ColumnType<string | null, string | null | undefined, string | null>;
  guild_id: ColumnType<string | null, string | null | undefined, string | null>;
}

/** A view over journal (migration 2026_11_28_000100): one row per tip or rain leg. Read-only. */
export interface TipsTable {
  id: Id;
  interaction_id: string;
  leg: number;
  kind: TipKind;
  sender_id: bigint;
  receiver_id: bigint;
  amount: Amount;
  currency: string;
  note: string | null;
  /** Where it was sent (migration 2026_11_23_140000); null in DMs and for tips from before that migration. */
  guild_id: ColumnType<string | null, string | null | undefined, never>;
  created_at: CreatedAt;
}

/** A credit not yet folded into its balance row (see ledger_tip(), ledger_debit(), ledger_fold()). */
export interface BalanceCreditsTable {
  user_id: bigint;
  currency: string;
  amount: Amount;
}

/** View: what a member holds = balance row + unfolded credits. */
export interface AccountBalancesView {
  user_id: ColumnType<bigint, never, never>;
  currency: ColumnType<string, never, never>;
  amount: ColumnType<bigint, never, never>;
}

/** Tips and rain sent per guild ('' = DM or unknown), currency, UTC day and sender; feeds /leaderboard. */
export interface TipTotalsDailyTable {
  guild_id: string;
  currency: string;
  day: ColumnType<Date, string, string>;
  sender_id: bigint;
  total: Amount;
  tips: bigint;
}

/**
 * Folded tip legs per board period (migrations 2026_11_28_190000_ledger_rollup, 2026_11_28_220000_ledger_tip_fold):
 * all time, and the day/week/month windows ending on the state's window_day. guild_id '*' = bot-wide.
 */
export interface TipTotalsRollupTable {
  period: 'all' | 'day' | 'week' | 'month';
  guild_id: string;
  currency: string;
  sender_id: bigint;
  total: Amount;
  tips: bigint;
}

/**
 * One row: tip legs created before folded_until are in tip_totals_daily and tip_totals_rollup, none after; the window
 * rows end on window_day (migration 2026_11_28_220000_ledger_tip_fold). folded_through is unused since then.
 */
export interface TipTotalsRollupStateTable {
  singleton: ColumnType<boolean, never, never>;
  folded_through: ColumnType<Date, string, string>;
  folded_until: ColumnType<Date, string, string>;
  window_day: ColumnType<Date, string, string>;
}

export interface AirdropsTable {
  id: Id;
  interaction_id: string;
  creator_id: bigint;
  currency: string;
  total_amount: Amount;
  per_claim_amount: Amount;
  claims_allowed: number;
  claims_made: Generated<number>;
  remaining_amount: Amount;
  status: ColumnType<AirdropStatus, AirdropStatus | undefined, AirdropStatus>;
  expires_at: Timestamp;
  guild_id: string | null;
  channel_id: string | null;
  message_id: string | null;
  closed_at: Timestamp | null;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export interface AirdropClaimsTable {
  id: Id;
  airdrop_id: bigint;
  user_id: bigint;
  amount: Amount;
  created_at: CreatedAt;
}

export interface TipConfirmationsTable {
  id: Id;
  interaction_id: string;
  sender_discord_id: string;
  request: ColumnType<unknown, string, string>;
  status: ColumnType<ConfirmationStatus, ConfirmationStatus | undefined, ConfirmationStatus>;
  expires_at: Timestamp;
  decided_at: Timestamp | null;
  created_at: CreatedAt;
}

export interface MemberActivityTable {
  guild_id: string;
  user_id: bigint;
  last_active_at: Timestamp;
}

export interface TipSettingsTable {
  user_id: bigint;
  currency: string;
  confirm_above: Amount;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

/** What the bot owes a guild from memberships sold (migration 2026_11_28_170000); moved only with its journal entry. */
export interface GuildRevenueTable {
  guild_id: string;
  currency: string;
  amount: ColumnType<bigint, bigint | string | undefined, bigint | string>;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export interface LedgerTables {
  balances: BalancesTable;
  journal: JournalTable;
  tips: TipsTable;
  balance_credits: BalanceCreditsTable;
  account_balances: AccountBalancesView;
  tip_totals_daily: TipTotalsDailyTable;
  tip_totals_rollup: TipTotalsRollupTable;
  tip_totals_rollup_state: TipTotalsRollupStateTable;
  airdrops: AirdropsTable;
  airdrop_claims: AirdropClaimsTable;
  tip_confirmations: TipConfirmationsTable;
  member_activity: MemberActivityTable;
  tip_settings: TipSettingsTable;
  guild_revenue: GuildRevenueTable;
}
