import type { ColumnType, Selectable } from 'kysely';
import type { CreatedAt, Id, Timestamp } from '../../db/schema';

export const TICKET_STATUSES = ['open', 'claimed', 'pending_close', 'closed'] as const;
export const TICKET_PRIORITIES = ['low', 'normal', 'high', 'urgent'] as const;
export type TicketStatus = (typeof TICKET_STATUSES)[number];
export type TicketPriority = (typeof TICKET_PRIORITIES)[number];

type NullableTime = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;

export interface TicketsTable {
  id: Id;
  user_id: bigint;
  discord_id: string;
  guild_id: string | null;
  subject: string;
  description: string;
  status: ColumnType<TicketStatus, TicketStatus | undefined, TicketStatus>;
  priority: ColumnType<TicketPriority, TicketPriority | undefined, TicketPriority>;
  category: string;
  thread_id: string | null;
  opening_message_id: string | null;
  claimed_by: bigint | null;
  linked_ref: string | null;
  rating: number | null;
  feedback: string | null;
  close_requested_at: NullableTime;
  first_staff_reply_at: NullableTime;
  last_activity_at: Timestamp;
  warned_at: NullableTime;
  closed_at: NullableTime;
  closed_by: bigint | null;
  close_reason: string | null;
  source_interaction_id: string | null;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export interface TicketMessagesTable {
  id: Id;
  ticket_id: bigint;
  author_id: bigint;
  body: string;
  is_staff_note: ColumnType<boolean, boolean | undefined, boolean>;
  external_id: string | null;
  /** The body as first written, kept from the first edit on (thread messages edited in Discord). */
  original_body: string | null;
  edited_at: NullableTime;
  deleted_at: NullableTime;
  created_at: CreatedAt;
}

export interface TicketTables {
  tickets: TicketsTable;
  ticket_messages: TicketMessagesTable;
}

export type TicketRow = Selectable<TicketsTable>;
export type TicketMessageRow = Selectable<TicketMessagesTable>;
