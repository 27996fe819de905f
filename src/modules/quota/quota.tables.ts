import type { ColumnType } from 'kysely';
import type { CreatedAt, Id, Timestamp } from '../../db/schema';

export const ENVIRONMENTS = ['dev', 'stage', 'prod'] as const;
export type Environment = (typeof ENVIRONMENTS)[number];

type NullableTs = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
type DefaultTs = ColumnType<Date, Date | string | undefined, Date | string>;
type TextArray = ColumnType<string[], string[] | undefined, string[]>;

export interface ApiClientsTable {
  id: Id;
  owner_user_id: bigint;
  name: string;
  contacts: TextArray;
  allowed_origins: TextArray;
  active: ColumnType<boolean, boolean | undefined, boolean>;
  reporter_id: ColumnType<bigint | null, bigint | null | undefined, bigint | null>;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export interface ApiClientEnvironmentsTable {
  id: Id;
  client_id: bigint;
  environment: Environment;
  token_hash: string;
  /** Last characters of the token, to tell tokens apart in listings. */
  token_hint: string;
  active: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: CreatedAt;
  rotated_at: NullableTs;
  revoked_at: NullableTs;
}

export interface QuotaReportersTable {
  id: Id;
  name: string;
  active: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: CreatedAt;
}

export interface QuotaReporterTokensTable {
  id: Id;
  reporter_id: bigint;
  token_hash: string;
  created_at: CreatedAt;
  invalidated_at: NullableTs;
}

export interface QuotaBundlesTable {
  id: Id;
  name: string;
  requests: bigint;
  method: string | null;
  created_at: CreatedAt;
}

export interface QuotaPackagesTable {
  id: Id;
  name: string;
  created_at: CreatedAt;
}

export interface QuotaPackageBundlesTable {
  package_id: bigint;
  bundle_id: bigint;
  valid_from: DefaultTs;
  valid_until: DefaultTs;
}

export type PackageSource = 'admin' | 'voucher' | 'plan';

export interface QuotaUserPackagesTable {
  id: Id;
  user_id: bigint;
  package_id: bigint;
  source: PackageSource;
  source_ref: string | null;
  valid_from: DefaultTs;
  valid_until: DefaultTs;
  created_at: CreatedAt;
}

export interface QuotaVouchersTable {
  id: Id;
  code: string;
  package_id: bigint;
  uses_left: number;
  valid_until: ColumnType<Date, Date | string, Date | string>;
  created_at: CreatedAt;
}

export interface QuotaRedeemedVouchersTable {
  user_id: bigint;
  voucher_id: bigint;
  created_at: CreatedAt;
}

export interface QuotaAccountsTable {
  user_id: bigint;
  anchor_day: number;
  period_start: ColumnType<Date, Date | string, Date | string>;
  created_at: CreatedAt;
}

export interface QuotaUsageTable {
  user_id: bigint;
  period_start: ColumnType<Date, Date | string, Date | string>;
  environment_id: bigint;
  method: string;
  requests: ColumnType<bigint, bigint | undefined, bigint>;
  reported: ColumnType<bigint, bigint | undefined, bigint>;
}

export interface QuotaUsageReportsTable {
  reporter_id: bigint;
  report_id: string;
  user_id: bigint;
  environment_id: bigint;
  method: string;
  segments: bigint;
  period_start: ColumnType<Date, Date | string, Date | string>;
  created_at: CreatedAt;
}

export interface QuotaPeriodsTable {
  user_id: bigint;
  period_start: ColumnType<Date, Date | string, Date | string>;
  period_end: ColumnType<Date, Date | string, Date | string>;
  requests: bigint;
  reported: bigint;
  closed_at: CreatedAt;
}

export interface ApiIdempotencyKeysTable {
  environment_id: bigint;
  key: string;
  body_hash: string;
  created_at: CreatedAt;
}

export interface QuotaTables {
  api_clients: ApiClientsTable;
  api_client_environments: ApiClientEnvironmentsTable;
  quota_reporters: QuotaReportersTable;
  quota_reporter_tokens: QuotaReporterTokensTable;
  quota_bundles: QuotaBundlesTable;
  quota_packages: QuotaPackagesTable;
  quota_package_bundles: QuotaPackageBundlesTable;
  quota_user_packages: QuotaUserPackagesTable;
  quota_vouchers: QuotaVouchersTable;
  quota_redeemed_vouchers: QuotaRedeemedVouchersTable;
  quota_accounts: QuotaAccountsTable;
  quota_usage: QuotaUsageTable;
  quota_usage_reports: QuotaUsageReportsTable;
  quota_periods: QuotaPeriodsTable;
  api_idempotency_keys: ApiIdempotencyKeysTable;
}
