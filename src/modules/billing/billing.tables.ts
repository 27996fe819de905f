import type { ColumnType, Generated } from 'kysely';
import type { CreatedAt, Id, Timestamp } from '../../db/schema';

// Kysely view of migrations/2026_11_28_170000_billing.ts. Amounts are NUMERIC(39,0) base units, read as bigint.

type Amount = ColumnType<bigint, bigint | string, bigint | string>;
type Nullable<T> = ColumnType<T | null, T | null | undefined, T | null>;
type NullableAmount = ColumnType<bigint | null, bigint | string | null | undefined, bigint | string | null>;
type NullableTime = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
type Defaulted<T> = ColumnType<T, T | undefined, T>;

export const CYCLES = ['month', 'quarter', 'half_year', 'year'] as const;
export type Cycle = (typeof CYCLES)[number];
export type PlanStatus = 'active' | 'archived';
export type InvoiceStatus = 'CREATED' | 'PENDING' | 'PAID' | 'EXPIRED' | 'CANCELED' | 'REFUNDED';
export type InvoiceKind = 'new' | 'renewal' | 'trial';
export type SubscriptionStatus = 'ACTIVE' | 'EXPIRED' | 'CANCELED' | 'SUSPENDED';
export type PaymentSource = 'balance' | 'chain';
export type RoleOp = 'add' | 'remove';

export interface BillingPlansTable {
  id: Id;
  guild_id: string;
  code: string;
  name: string;
  description: Defaulted<string>;
  features: Defaulted<string[]>;
  role_id: string;
  trial_days: Defaulted<number>;
  invite_only: Defaulted<boolean>;
  status: Defaulted<PlanStatus>;
  archived_at: NullableTime;
  created_by: Nullable<string>;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export interface BillingPlanPricesTable {
  id: Id;
  plan_id: bigint;
  cycle: Cycle;
  currency: string;
  price: Amount;
  discount_percent: Defaulted<number>;
}

export interface BillingCouponsTable {
  id: Id;
  guild_id: string;
  code: string;
  plan_id: Nullable<bigint>;
  max_redemptions: Nullable<number>;
  redemptions: Generated<number>;
  expires_at: NullableTime;
  active: Defaulted<boolean>;
  created_by: Nullable<string>;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export interface BillingCouponDiscountsTable {
  id: Id;
  coupon_id: bigint;
  /** null: every cycle. */
  cycle: Nullable<Cycle>;
  percent_off: Nullable<number>;
  amount_off: NullableAmount;
  currency: Nullable<string>;
}

export interface BillingCouponRedemptionsTable {
  id: Id;
  coupon_id: bigint;
  user_id: bigint;
  invoice_id: bigint;
  created_at: CreatedAt;
}

export interface BillingInvitesTable {
  id: Id;
  guild_id: string;
  plan_id: bigint;
  user_id: bigint;
  invited_by: string;
  expires_at: Timestamp;
  accepted_at: NullableTime;
  revoked_at: NullableTime;
  created_at: CreatedAt;
}

export interface BillingInvoiceCountersTable {
  guild_id: string;
  last_number: Amount;
}

export interface BillingInvoicesTable {
  id: Id;
  guild_id: string;
  number: string;
  user_id: bigint;
  plan_id: bigint;
  cycle: Cycle;
  kind: Defaulted<InvoiceKind>;
  currency: string;
  /** SPL mint the payment must arrive in; null = native SOL. */
  mint: Nullable<string>;
  subtotal: Amount;
  discount: ColumnType<bigint, bigint | string | undefined, bigint | string>;
  amount: Amount;
  paid_amount: ColumnType<bigint, bigint | string | undefined, bigint | string>;
  coupon_id: Nullable<bigint>;
  invite_id: Nullable<bigint>;
  status: Defaulted<InvoiceStatus>;
  reference: string;
  /** null: no treasury configured, balance payment only. */
  recipient: Nullable<string>;
  rate_locked_until: Timestamp;
  interaction_id: Nullable<string>;
  subscription_id: Nullable<bigint>;
  paid_at: NullableTime;
  expired_at: NullableTime;
  canceled_at: NullableTime;
  refunded_at: NullableTime;
  refunded_amount: NullableAmount;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export interface BillingInvoicePaymentsTable {
  id: Id;
  invoice_id: bigint;
  user_id: bigint;
  source: PaymentSource;
  payment_key: string;
  signature: Nullable<string>;
  currency: string;
  amount: Amount;
  applied_amount: Amount;
  credited_amount: Amount;
  created_at: CreatedAt;
}

export interface BillingSubscriptionsTable {
  id: Id;
  guild_id: string;
  user_id: bigint;
  plan_id: bigint;
  status: Defaulted<SubscriptionStatus>;
  cycle: Cycle;
  currency: string;
  trial: Defaulted<boolean>;
  auto_renew: Defaulted<boolean>;
  active_since: Timestamp;
  expires_at: Timestamp;
  inactive_since: NullableTime;
  cancel_requested_at: NullableTime;
  suspended_reason: Nullable<string>;
  last_invoice_id: Nullable<bigint>;
  reminded_3d_at: NullableTime;
  reminded_1d_at: NullableTime;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export interface BillingTrialUsesTable {
  guild_id: string;
  user_id: bigint;
  plan_id: bigint;
  subscription_id: Nullable<bigint>;
  used_at: CreatedAt;
}

export interface BillingRoleChangesTable {
  id: Id;
  guild_id: string;
  user_id: bigint;
  role_id: string;
  op: RoleOp;
  reason: string;
  subscription_id: Nullable<bigint>;
  attempts: Generated<number>;
  next_attempt_at: Timestamp;
  last_error: Nullable<string>;
  done_at: NullableTime;
  created_at: CreatedAt;
}

export interface BillingTables {
  billing_plans: BillingPlansTable;
  billing_plan_prices: BillingPlanPricesTable;
  billing_coupons: BillingCouponsTable;
  billing_coupon_discounts: BillingCouponDiscountsTable;
  billing_coupon_redemptions: BillingCouponRedemptionsTable;
  billing_invites: BillingInvitesTable;
  billing_invoice_counters: BillingInvoiceCountersTable;
  billing_invoices: BillingInvoicesTable;
  billing_invoice_payments: BillingInvoicePaymentsTable;
  billing_subscriptions: BillingSubscriptionsTable;
  billing_trial_uses: BillingTrialUsesTable;
  billing_role_changes: BillingRoleChangesTable;
}
