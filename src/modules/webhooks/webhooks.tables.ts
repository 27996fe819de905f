import type { ColumnType } from 'kysely';
import type { CreatedAt, Id, Timestamp } from '../../db/schema';

// Kysely view of migrations/2026_11_28_160000_webhooks.ts, 2026_11_28_180000_webhook_events.ts and
// 2026_11_28_224000_webhooks_compact_outbox.ts.

type NullableTs = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;

export type DeliveryStatus = 'pending' | 'delivered' | 'dead';

export interface WebhookEndpointsTable {
  id: Id;
  environment_id: bigint;
  owner_user_id: bigint;
  url: string;
  event_types: ColumnType<string[], string[], string[]>;
  /** `whsec_<base64 key>`; kept because every delivery is signed with it; shown to the owner only at creation. */
  secret: string;
  /** The secret before the last rotation: deliveries are signed with it too until previous_secret_expires_at. */
  previous_secret: ColumnType<string | null, string | null | undefined, string | null>;
  previous_secret_expires_at: NullableTs;
  secret_rotated_at: NullableTs;
  active: ColumnType<boolean, boolean | undefined, boolean>;
  disabled_reason: ColumnType<string | null, string | null | undefined, string | null>;
  failing_since: NullableTs;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export interface WebhookEventsTable {
  id: string;
  type: string;
  owner_user_id: bigint;
  /** Null for tip.received: built from its journal leg when delivered (webhook_event_body()). */
  payload: ColumnType<Record<string, unknown> | null, string | null, never>;
  journal_id: ColumnType<bigint | null, bigint | null | undefined, never>;
  created_at: CreatedAt;
}

export interface WebhookDeliveriesTable {
  id: Id;
  event_id: string;
  endpoint_id: bigint;
  status: ColumnType<DeliveryStatus, DeliveryStatus | undefined, DeliveryStatus>;
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: ColumnType<Date, Date | string | undefined, Date | string>;
  last_attempt_at: NullableTs;
  /** While an attempt is in flight: not due again before this (migration 2026_11_28_224000). */
  leased_until: NullableTs;
  last_status: ColumnType<number | null, number | null | undefined, number | null>;
  last_error: ColumnType<string | null, string | null | undefined, string | null>;
  last_response: ColumnType<string | null, string | null | undefined, string | null>;
  delivered_at: NullableTs;
  created_at: CreatedAt;
}

export interface WebhookTables {
  webhook_endpoints: WebhookEndpointsTable;
  webhook_events: WebhookEventsTable;
  webhook_deliveries: WebhookDeliveriesTable;
}
