import type { Kysely, Transaction, Updateable } from 'kysely';
import type { Histogram } from 'prom-client';
import type { Config } from '../../config';
import { isUniqueViolation } from '../../db/pg-errors';
import type { DB } from '../../db/schema';
import { quote, UserError } from '../../errors';
import { keysetArgs, keysetPage } from '../../keyset-page';
import { writeAudit } from '../guilds/guilds.audit';
import type { UsersService } from '../users/users.service';
import * as repo from './tickets.repository';
import type { TicketRecord, TranscriptEntry } from './tickets.repository';
import { TICKET_PRIORITIES, TICKET_STATUSES, type TicketPriority, type TicketRow, type TicketStatus, type TicketsTable } from './tickets.tables';

type TicketPatch = Updateable<TicketsTable>;

export type Ticket = TicketRecord;
export type { TranscriptEntry };

/**
 * Who is acting, from where. `isStaff` = guild staff of `guildId` (resolved by the caller: Manage Server or the
 * guild's staff role); it counts only for tickets of that guild — elsewhere the actor is an ordinary member.
 */
export interface TicketActor {
  discordId: string;
  username: string;
  guildId: string | null;
  isStaff: boolean;
}

/** Staff of the ticket's own guild (tickets without a guild have no staff in Discord; the admin API handles them). */
export function isStaffFor(t: Pick<TicketRow, 'guild_id'>, actor: TicketActor | null): boolean {
  return actor !== null && actor.isStaff && t.guild_id !== null && t.guild_id === actor.guildId;
}

/** The ticket rules of one guild: GuildsService.settings(guildId).tickets; `ticketPolicy(config)` = the defaults. */
export interface TicketPolicy {
  categories: readonly string[];
  maxOpenPerUser: number;
  openCooldownSeconds: number;
  autoCloseHours: number;
  warningHours: number;
}

export function ticketPolicy(config: Config): TicketPolicy {
  return {
    categories: config.TICKETS_CATEGORIES,
    maxOpenPerUser: config.TICKETS_MAX_OPEN_PER_USER,
    openCooldownSeconds: config.TICKETS_OPEN_COOLDOWN_SECONDS,
    autoCloseHours: config.TICKETS_AUTO_CLOSE_HOURS,
    warningHours: config.TICKETS_AUTO_CLOSE_WARNING_HOURS,
  };
}

/** SLA histograms (seconds); src/metrics.ts owns them, the service observes at the transition. */
export interface TicketMetrics {
  ticketFirstResponseSeconds: Histogram<'priority'>;
  ticketResolutionSeconds: Histogram<'priority'>;
}

/**
 * Discord side effects of ticket changes, whoever made them (a command, a button, the admin API, the auto-close
 * job): a port built by the composition root from the Discord client (tickets.discord.ts) and reached through
 * `ctx.effects.tickets`; absent without Discord. tickets.actions.ts decides which one a change needs.
 */
export interface TicketDiscordEffects {
  /** Re-renders the ticket card; `line`, if given, is posted in the thread for the member to see. */
  changed(t: Ticket, line?: string): Promise<void>;
  /** Refreshes the card and asks the member, in the thread, to confirm the close or keep the ticket open. */
  closeRequested(t: Ticket): Promise<void>;
  /** Posts the inactivity warning in the thread. */
  warn(t: Ticket, closesAt: Date): Promise<void>;
  /**
   * Announces the close in the thread, archives + locks it, sends the member the transcript and rating prompt.
   * `transcript` is read only when the DM is sent (the member's view: no staff notes).
   */
  closed(t: Ticket, transcript: () => Promise<TranscriptEntry[]>): Promise<void>;
}

export interface OpenTicketInput {
  opener: { discordId: string; username: string };
  guildId: string | null;
  category: string | undefined;
  priority: string | undefined;
  subject: string;
  description: string;
  /** Interaction id: the same interaction delivered twice opens one ticket. */
  sourceInteractionId?: string;
}

export interface TicketPage {
  items: Ticket[];
  /** Pass back as `cursor` for the next (older) page; null on the last page. */
  nextCursor: string | null;
}

export interface ListTicketsInput {
  status?: string | undefined;
  priority?: string | undefined;
  /** Staff: tickets they claimed. Members always see only their own. */
  mine?: boolean | undefined;
  limit?: number | undefined;
  cursor?: string | undefined;
}

export interface AdminTicketPatch {
  status?: 'open' | 'closed' | undefined;
  priority?: TicketPriority | undefined;
  /** Discord id of a SUPPORT/ADMIN user, or null to unclaim. */
  claim?: string | null | undefined;
  closeReason?: string | undefined;
}

export const SUBJECT_MAX = 100;
export const DESCRIPTION_MAX = 2000;
export const NOTE_MAX = 4000;
// Replies are echoed into the thread as "**name:** body"; Discord caps a message at 2000 characters.
export const REPLY_MAX = 1800;
export const REASON_MAX = 500;
export const FEEDBACK_MAX = 1000;

const REF = /^(tip|withdrawal|invoice):([A-Za-z0-9_-]{1,64})$/i;
const AUTO_CLOSE_BATCH = 100;

const isStatus = (v: string): v is TicketStatus => (TICKET_STATUSES as readonly string[]).includes(v);
const isPriority = (v: string): v is TicketPriority => (TICKET_PRIORITIES as readonly string[]).includes(v);

function text(value: string | null | undefined, field: string, max: number): string {
  const v = (value ?? '').trim();
  if (!v) throw new UserError('TICKET_INVALID', `The ${field} cannot be empty.`);
  if (v.length > max) throw new UserError('TICKET_INVALID', `The ${field} is too long (${v.length} characters; at most ${max}).`);
  return v;
}

export function parsePriority(value: string | undefined | null, fallback?: TicketPriority): TicketPriority {
  if (value === undefined || value === null || value === '') {
    if (fallback) return fallback;
    throw new UserError('TICKET_BAD_PRIORITY', `Choose a priority: ${TICKET_PRIORITIES.join(', ')}.`);
  }
  const v = value.toLowerCase();
  if (!isPriority(v)) throw new UserError('TICKET_BAD_PRIORITY', `Unknown priority ${quote(value, 40)}. Use one of: ${TICKET_PRIORITIES.join(', ')}.`);
  return v;
}

export function parseStatus(value: string): TicketStatus {
  const v = value.toLowerCase();
  if (!isStatus(v)) throw new UserError('TICKET_BAD_STATUS', `Unknown status ${quote(value, 40)}. Use one of: ${TICKET_STATUSES.join(', ')}.`);
  return v;
}

/** `tip:123` style reference to a transaction or invoice; the kind is case-insensitive. */
export function parseLinkedRef(value: string): string {
  const m = REF.exec(value.trim());
  if (!m) {
    throw new UserError('TICKET_BAD_REF', `${quote(value, 80)} is not a reference. Use tip:<id>, withdrawal:<id> or invoice:<id> (letters, digits, _ or -, at most 64).`);
  }
  return `${m[1]!.toLowerCase()}:${m[2]!}`;
}

export function ticketLabel(t: Pick<Ticket, 'id'>): string {
  return `#${t.id}`;
}

/**
 * Support tickets: opening (per-user limit + cooldown), claiming, notes, linking, closing (directly or on the
 * member's confirmation), ratings, transcripts, listing and the inactivity auto-close. Discord side effects (threads,
 * DMs) are the caller's; every method here is one DB transaction that validates the state transition first.
 */
export class TicketsService {
  constructor(
    private readonly db: Kysely<DB>,
    private readonly users: UsersService,
    private readonly metrics?: TicketMetrics,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  // ------------------------------------------------------------------ opening

  /** Validates category/priority/subject/description (nothing is written on a bad input). */
  validateOpen(input: Pick<OpenTicketInput, 'category' | 'priority' | 'subject' | 'description'>, policy: TicketPolicy) {
    return {
      category: this.category(input.category, policy),
      priority: parsePriority(input.priority, 'normal'),
      subject: text(input.subject, 'subject', SUBJECT_MAX),
      description: text(input.description, 'description', DESCRIPTION_MAX),
    };
  }

  category(value: string | undefined | null, policy: TicketPolicy): string {
    if (!value) return policy.categories[0]!;
    const v = value.trim().toLowerCase();
    if (!policy.categories.includes(v)) {
      throw new UserError('TICKET_BAD_CATEGORY', `Unknown category ${quote(value, 40)}. Choose one of: ${policy.categories.join(', ')}.`);
    }
    return v;
  }

  /** Fails fast before a modal is shown; `open` checks again under the per-user lock. */
  async checkCanOpen(discordId: string, policy: TicketPolicy): Promise<void> {
    const user = await this.users.findByDiscordId(discordId);
    if (user) this.checkLimits(await repo.openStats(this.db, user.id), policy);
  }

  private checkLimits(stats: { open: number; lastCreatedAt: Date | null }, policy: TicketPolicy): void {
    if (stats.open >= policy.maxOpenPerUser) {
      throw new UserError(
        'TICKET_LIMIT',
        `You already have ${stats.open} open ticket${stats.open === 1 ? '' : 's'} (the limit is ${policy.maxOpenPerUser}). Close one before opening another.`,
      );
    }
    if (policy.openCooldownSeconds > 0 && stats.lastCreatedAt) {
      const wait = Math.ceil((stats.lastCreatedAt.getTime() + policy.openCooldownSeconds * 1000 - this.clock().getTime()) / 1000);
      if (wait > 0) throw new UserError('TICKET_COOLDOWN', `You opened a ticket just now — you can open another in ${wait} s.`);
    }
  }

  /** Creates the ticket row (no thread yet: `attachThread` once Discord created it, or `abandon` if that failed). */
  async open(input: OpenTicketInput, policy: TicketPolicy): Promise<{ ticket: Ticket; created: boolean }> {
    const v = this.validateOpen(input, policy);
    if (input.sourceInteractionId) {
      const existing = await repo.findBySourceInteraction(this.db, input.sourceInteractionId);
      if (existing) return { ticket: existing, created: false };
    }
    const user = await this.users.ensure(input.opener.discordId, input.opener.username);
    const insert = this.db.transaction().execute(async (tx) => {
      await repo.lockUser(tx, user.id);
      this.checkLimits(await repo.openStats(tx, user.id), policy);
      const now = this.clock();
      const ticketId = await repo.insertTicket(tx, {
        user_id: user.id,
        discord_id: input.opener.discordId,
        guild_id: input.guildId,
        subject: v.subject,
        description: v.description,
        category: v.category,
        priority: v.priority,
        source_interaction_id: input.sourceInteractionId ?? null,
        last_activity_at: now,
        created_at: now,
      });
      return ticketId;
    });
    let id: bigint;
    try {
      id = await insert;
    } catch (err) {
      // A concurrent delivery of the same interaction won the insert: answer with its ticket.
      const replayed = input.sourceInteractionId && isUniqueViolation(err, ['tickets_source_interaction_id_key'])
        ? await repo.findBySourceInteraction(this.db, input.sourceInteractionId)
        : undefined;
      if (replayed) return { ticket: replayed, created: false };
      throw err;
    }
    return { ticket: (await repo.findById(this.db, id))!, created: true };
  }

  async attachThread(id: bigint, threadId: string, openingMessageId: string | null): Promise<Ticket> {
    await repo.updateTicket(this.db, id, { thread_id: threadId, opening_message_id: openingMessageId });
    return (await repo.findById(this.db, id))!;
  }

  /** Removes a ticket whose Discord thread could not be created, so it does not count against the limit. */
  async abandon(id: bigint): Promise<void> {
    await repo.deleteTicket(this.db, id);
  }

  /**
   * Removes tickets still without a thread `graceSeconds` after they were written: the replica opening them died
   * between the row and the thread (its member was told the open was interrupted), so nobody can see them and they
   * would count against the member's open limit for good. Returns their ids.
   */
  async abandonUnfinished(graceSeconds: number): Promise<bigint[]> {
    return repo.deleteThreadless(this.db, new Date(this.clock().getTime() - graceSeconds * 1000));
  }

  // ------------------------------------------------------------------ reading

  /** The ticket if the actor may see it: staff their guild's, members their own; null = the admin API (all). */
  async get(id: bigint | string, actor: TicketActor | null): Promise<Ticket> {
    const ticket = await this.find(id);
    this.assertCanSee(ticket, actor);
    return ticket;
  }

  findByThread(threadId: string): Promise<Ticket | undefined> {
    return repo.findByThreadId(this.db, threadId);
  }

  async list(actor: TicketActor, input: ListTicketsInput = {}): Promise<TicketPage> {
    let userId: bigint | undefined;
    let claimedBy: bigint | undefined;
    const me = await this.users.findByDiscordId(actor.discordId);
    const staffGuild = actor.isStaff ? actor.guildId : null;
    if (staffGuild === null) {
      if (!me) return { items: [], nextCursor: null };
      userId = me.id;
    } else if (input.mine) {
      if (!me) return { items: [], nextCursor: null };
      claimedBy = me.id;
    }
    // Staff see their own guild's queue only.
    return this.page({ ...input, userId, claimedBy, ...(staffGuild !== null ? { guildId: staffGuild } : {}) });
  }

  /** Admin API listing (no actor: the bearer token is the authorisation). */
  adminList(input: ListTicketsInput): Promise<TicketPage> {
    return this.page({ ...input, activeByDefault: false });
  }

  private async page(
    input: ListTicketsInput & { userId?: bigint | undefined; claimedBy?: bigint | undefined; guildId?: string | undefined; activeByDefault?: boolean },
  ): Promise<TicketPage> {
    const { limit, beforeId } = keysetArgs(input, 'TICKET');
    const status = input.status ? parseStatus(input.status) : undefined;
    const priority = input.priority ? parsePriority(input.priority) : undefined;
    const rows = await repo.list(this.db, {
      ...(status ? { status } : { active: input.activeByDefault ?? true }),
      ...(priority ? { priority } : {}),
      ...(input.userId !== undefined ? { userId: input.userId } : {}),
      ...(input.claimedBy !== undefined ? { claimedBy: input.claimedBy } : {}),
      ...(input.guildId !== undefined ? { guildId: input.guildId } : {}),
      ...(beforeId !== undefined ? { beforeId } : {}),
      limit,
    });
    return keysetPage(rows, limit);
  }

  /** The transcript entries the actor may read (members never see staff notes). */
  async transcript(id: bigint | string, actor: TicketActor): Promise<{ ticket: Ticket; entries: TranscriptEntry[]; includesNotes: boolean }> {
    const ticket = await this.get(id, actor);
    const staff = isStaffFor(ticket, actor);
    const entries = await repo.transcript(this.db, ticket.id, staff);
    return { ticket, entries, includesNotes: staff };
  }

  /** What the member who opened the ticket may read of it (no staff notes): the transcript DMed on close. */
  async memberTranscript(t: Pick<Ticket, 'id'>): Promise<TranscriptEntry[]> {
    return repo.transcript(this.db, t.id, false);
  }

  // ------------------------------------------------------------------ staff actions

  async claim(id: bigint | string, actor: TicketActor): Promise<Ticket> {
    this.assertStaff(actor, 'claim tickets');
    const me = await this.users.ensure(actor.discordId, actor.username);
    return this.transition(id, actor, (t) => {
      this.assertStaffFor(t, actor, 'claim');
      this.assertActive(t, 'claimed');
      if (t.claimed_by === me.id) throw new UserError('TICKET_ALREADY_CLAIMED', `You already claimed ticket ${ticketLabel(t)}.`);
      if (t.claimed_by !== null) {
        throw new UserError('TICKET_ALREADY_CLAIMED', `Ticket ${ticketLabel(t)} is already claimed by someone else — they (or any staff) must unclaim it first.`);
      }
      const now = this.clock();
      return {
        status: t.status === 'pending_close' ? 'pending_close' : 'claimed',
        claimed_by: me.id,
        ...this.activity(now),
        ...(t.first_staff_reply_at ? {} : { first_staff_reply_at: now }),
      };
    }, { audit: 'ticket.claim' });
  }

  async unclaim(id: bigint | string, actor: TicketActor): Promise<Ticket> {
    this.assertStaff(actor, 'unclaim tickets');
    return this.transition(id, actor, (t) => {
      this.assertStaffFor(t, actor, 'unclaim');
      this.assertActive(t, 'unclaimed');
      if (t.claimed_by === null) throw new UserError('TICKET_NOT_CLAIMED', `Ticket ${ticketLabel(t)} is not claimed.`);
      return { status: t.status === 'pending_close' ? 'pending_close' : 'open', claimed_by: null, ...this.activity(this.clock()) };
    }, { audit: 'ticket.unclaim' });
  }

  async setPriority(id: bigint | string, actor: TicketActor, priority: string): Promise<Ticket> {
    this.assertStaff(actor, 'change the priority');
    const p = parsePriority(priority);
    return this.transition(id, actor, (t) => {
      this.assertStaffFor(t, actor, 'change the priority of');
      this.assertActive(t, 'changed');
      if (t.priority === p) throw new UserError('TICKET_UNCHANGED', `Ticket ${ticketLabel(t)} already has priority ${p}.`);
      return { priority: p };
    }, { audit: 'ticket.priority' });
  }

  /** A staff-only note in the transcript: never shown to the member, does not count as a reply. */
  async addNote(id: bigint | string, actor: TicketActor, body: string, externalId?: string): Promise<Ticket> {
    this.assertStaff(actor, 'add staff notes');
    const note = text(body, 'note', NOTE_MAX);
    const me = await this.users.ensure(actor.discordId, actor.username);
    return this.transition(id, actor, async (t, tx) => {
      this.assertStaffFor(t, actor, 'annotate');
      this.assertActive(t, 'annotated');
      await repo.insertMessage(tx, { ticket_id: t.id, author_id: me.id, body: note, is_staff_note: true, external_id: externalId ?? null });
      return {};
    }, { audit: 'ticket.note', auditAfter: { note_chars: note.length } });
  }

  /** A message in the ticket (from the thread or /ticket reply). Staff replies start the first-response clock. */
  async reply(id: bigint | string, actor: TicketActor, body: string, externalId?: string): Promise<Ticket> {
    const message = text(body, 'message', REPLY_MAX);
    const me = await this.users.ensure(actor.discordId, actor.username);
    return this.recordMessage(id, actor, me.id, message, externalId);
  }

  /** Records a message posted in a ticket thread (MESSAGE_CREATE). Returns undefined for non-ticket threads. */
  async recordThreadMessage(threadId: string, actor: TicketActor, body: string, messageId: string): Promise<Ticket | undefined> {
    const ticket = await repo.findByThreadId(this.db, threadId);
    if (!ticket || ticket.status === 'closed' || !body.trim()) return undefined;
    const me = await this.users.ensure(actor.discordId, actor.username);
    return this.recordMessage(ticket.id, actor, me.id, body.trim().slice(0, NOTE_MAX), messageId);
  }

  /**
   * A thread message edited in Discord (MESSAGE_UPDATE): the transcript keeps the first and the latest text. Only
   * messages already in the transcript count; true when it changed.
   */
  async recordThreadEdit(threadId: string, messageId: string, body: string): Promise<boolean> {
    const ticket = await repo.findByThreadId(this.db, threadId);
    if (!ticket || !body.trim()) return false;
    return repo.editMessage(this.db, ticket.id, messageId, body.trim().slice(0, NOTE_MAX), this.clock());
  }

  /** A thread message deleted in Discord (MESSAGE_DELETE): marked deleted in the transcript, its text kept. */
  async recordThreadDelete(threadId: string, messageId: string): Promise<boolean> {
    const ticket = await repo.findByThreadId(this.db, threadId);
    if (!ticket) return false;
    return repo.markMessageDeleted(this.db, ticket.id, messageId, this.clock());
  }

  private recordMessage(id: bigint | string, actor: TicketActor, authorId: bigint, body: string, externalId: string | undefined): Promise<Ticket> {
    return this.transition(id, actor, async (t, tx) => {
      this.assertActive(t, 'replied to');
      const inserted = await repo.insertMessage(tx, { ticket_id: t.id, author_id: authorId, body, is_staff_note: false, external_id: externalId ?? null });
      if (!inserted) return {};
      const now = this.clock();
      const staffReply = isStaffFor(t, actor) && authorId !== t.user_id;
      return { ...this.activity(now), ...(staffReply && !t.first_staff_reply_at ? { first_staff_reply_at: now } : {}) };
    });
  }

  /** Links a tip, withdrawal or invoice (`tip:123`); the owner or staff. */
  async link(id: bigint | string, actor: TicketActor, ref: string): Promise<Ticket> {
    const linked = parseLinkedRef(ref);
    return this.transition(id, actor, (t) => {
      this.assertActive(t, 'linked');
      return { linked_ref: linked, ...this.activity(this.clock()) };
    });
  }

  /** Staff ask the member to confirm the ticket can be closed. */
  async requestClose(id: bigint | string, actor: TicketActor): Promise<Ticket> {
    this.assertStaff(actor, 'request a close');
    return this.transition(id, actor, (t) => {
      this.assertStaffFor(t, actor, 'request a close of');
      this.assertActive(t, 'closed');
      if (t.status === 'pending_close') throw new UserError('TICKET_STATE', `Ticket ${ticketLabel(t)} is already waiting for the member to confirm the close.`);
      const now = this.clock();
      return { status: 'pending_close', close_requested_at: now, ...this.activity(now) };
    });
  }

  /** The member answers a close request: confirm closes, decline returns the ticket to the queue. */
  async answerCloseRequest(id: bigint | string, actor: TicketActor, confirm: boolean): Promise<Ticket> {
    const ticket = await this.find(id);
    this.assertCanSee(ticket, actor);
    if (ticket.discord_id !== actor.discordId) throw new UserError('TICKET_FORBIDDEN', `Only the member who opened ticket ${ticketLabel(ticket)} can answer the close request.`);
    if (confirm) return this.close(ticket.id, actor, 'Confirmed by the member', { requireStatus: 'pending_close' });
    return this.transition(ticket.id, actor, (t) => {
      this.assertActive(t, 'reopened');
      if (t.status !== 'pending_close') throw new UserError('TICKET_STATE', `Ticket ${ticketLabel(t)} has no pending close request.`);
      return { status: t.claimed_by ? 'claimed' : 'open', close_requested_at: null, ...this.activity(this.clock()) };
    });
  }

  /** Staff close any ticket; members close their own. */
  async close(
    id: bigint | string,
    actor: TicketActor | null,
    reason: string | undefined,
    opts: { requireStatus?: TicketStatus; inactiveSince?: Date; via?: 'admin-api' } = {},
  ): Promise<Ticket> {
    const why = reason?.trim() ? text(reason, 'reason', REASON_MAX) : null;
    const closer = actor ? await this.users.ensure(actor.discordId, actor.username) : undefined;
    const closed = await this.transition(id, actor, (t) => {
      this.assertActive(t, 'closed');
      if (opts.requireStatus && t.status !== opts.requireStatus) {
        throw new UserError('TICKET_STATE', `Ticket ${ticketLabel(t)} has no pending close request any more.`);
      }
      if (opts.inactiveSince && t.last_activity_at >= opts.inactiveSince) {
        throw new UserError('TICKET_ACTIVE', `Ticket ${ticketLabel(t)} had activity since the auto-close scan.`);
      }
      return { status: 'closed', closed_at: this.clock(), closed_by: closer?.id ?? null, close_reason: why, close_requested_at: null };
    }, {
      // Staff closing someone's ticket (or the admin API) is a privileged action; a member closing their own, the
      // member confirming a close request and the inactivity job are not.
      audit: 'ticket.close',
      auditWhen: (t) => (actor === null ? opts.via === 'admin-api' : isStaffFor(t, actor) && t.discord_id !== actor.discordId),
      ...(opts.via ? { via: opts.via } : {}),
      reason: why,
    });
    this.observeClose(closed);
    return closed;
  }

  async rate(id: bigint | string, actor: TicketActor, rating: number): Promise<Ticket> {
    if (!Number.isInteger(rating) || rating < 1 || rating > 5) throw new UserError('TICKET_BAD_RATING', 'A rating is a whole number from 1 to 5.');
    return this.transition(id, actor, (t) => {
      this.assertOwner(t, actor, 'rate');
      if (t.status !== 'closed') throw new UserError('TICKET_STATE', `Ticket ${ticketLabel(t)} can be rated once it is closed.`);
      if (t.rating !== null) throw new UserError('TICKET_ALREADY_RATED', `You already rated ticket ${ticketLabel(t)} ${t.rating}/5.`);
      return { rating };
    }, { allowClosed: true });
  }

  async feedback(id: bigint | string, actor: TicketActor, feedback: string): Promise<Ticket> {
    const body = text(feedback, 'feedback', FEEDBACK_MAX);
    return this.transition(id, actor, (t) => {
      this.assertOwner(t, actor, 'leave feedback on');
      if (t.rating === null) throw new UserError('TICKET_STATE', `Rate ticket ${ticketLabel(t)} first.`);
      if (t.feedback !== null) throw new UserError('TICKET_ALREADY_RATED', `You already left feedback on ticket ${ticketLabel(t)}.`);
      return { feedback: body };
    }, { allowClosed: true });
  }

  // ------------------------------------------------------------------ admin API

  async adminUpdate(id: bigint | string, patch: AdminTicketPatch): Promise<Ticket> {
    let claimer: bigint | null | undefined;
    if (patch.claim !== undefined && patch.claim !== null) {
      const user = await this.users.findByDiscordId(patch.claim);
      if (!user || (user.role !== 'SUPPORT' && user.role !== 'ADMIN')) {
        throw new UserError('TICKET_BAD_CLAIMER', `Discord user ${quote(patch.claim, 30)} is not a SUPPORT or ADMIN user.`);
      }
      claimer = user.id;
    } else if (patch.claim === null) {
      claimer = null;
    }
    if (patch.status === 'closed') {
      if (claimer !== undefined || patch.priority) throw new UserError('TICKET_BAD_PATCH', 'Closing cannot be combined with other changes.');
      return this.close(id, null, patch.closeReason ?? 'Closed via the admin API', { via: 'admin-api' });
    }
    const priority = patch.priority ? parsePriority(patch.priority) : undefined;
    if (patch.status === undefined && priority === undefined && claimer === undefined) {
      throw new UserError('TICKET_BAD_PATCH', 'Nothing to change: send status, priority and/or claim.');
    }
    return this.transition(id, null, (t) => {
      this.assertActive(t, 'changed');
      const next = claimer !== undefined ? claimer : t.claimed_by;
      let status: TicketStatus = t.status;
      if (patch.status === 'open') status = next ? 'claimed' : 'open';
      else if (claimer !== undefined && t.status !== 'pending_close') status = next ? 'claimed' : 'open';
      if (status === t.status && next === t.claimed_by && (priority ?? t.priority) === t.priority) {
        throw new UserError('TICKET_UNCHANGED', `Ticket ${ticketLabel(t)} already is ${t.status} with priority ${t.priority}; nothing to change.`);
      }
      const now = this.clock();
      return {
        status,
        claimed_by: next,
        ...(patch.status === 'open' ? { close_requested_at: null } : {}),
        ...(priority ? { priority } : {}),
        ...(claimer ? { ...this.activity(now), ...(t.first_staff_reply_at ? {} : { first_staff_reply_at: now }) } : {}),
      };
    }, { audit: 'ticket.update', via: 'admin-api' });
  }

  // ------------------------------------------------------------------ auto-close

  /**
   * Tickets silent for `autoCloseHours − warningHours` get a warning (via `warn`, which posts in the thread; only
   * marked once it succeeded); warned tickets still silent after `autoCloseHours` — and at least `warningHours`
   * after the warning — are closed. Any activity clears the warning.
   */
  async autoClose(
    policy: TicketPolicy | ((guildId: string | null) => Promise<TicketPolicy>),
    effects: Pick<TicketDiscordEffects, 'warn' | 'closed'>,
  ): Promise<{ warned: bigint[]; closed: bigint[]; failed: bigint[] }> {
    const policyOf = typeof policy === 'function' ? policy : () => Promise.resolve(policy);
    const out = { warned: [] as bigint[], closed: [] as bigint[], failed: [] as bigint[] };
    // Each guild sets its own hours; guilds with open tickets are few compared to tickets.
    for (const guildId of await repo.guildsWithActiveTickets(this.db)) {
      const r = await this.autoCloseGuild(guildId, await policyOf(guildId), effects);
      out.warned.push(...r.warned);
      out.closed.push(...r.closed);
      out.failed.push(...r.failed);
    }
    return out;
  }

  private async autoCloseGuild(guildId: string | null, policy: TicketPolicy, effects: Pick<TicketDiscordEffects, 'warn' | 'closed'>) {
    const now = this.clock();
    const hour = 3_600_000;
    const lead = Math.min(policy.warningHours, policy.autoCloseHours);
    const warnBefore = new Date(now.getTime() - (policy.autoCloseHours - lead) * hour);
    const closeBefore = new Date(now.getTime() - policy.autoCloseHours * hour);
    const warnedBefore = new Date(now.getTime() - lead * hour);
    const warned: bigint[] = [];
    const closed: bigint[] = [];
    // Tickets whose warning could not be posted (thread gone, Discord down): retried on the next run.
    const failed: bigint[] = [];

    for (const t of await repo.silentTickets(this.db, guildId, closeBefore, warnedBefore, AUTO_CLOSE_BATCH)) {
      try {
        const done = await this.close(t.id, null, `No activity for ${policy.autoCloseHours} h`, { inactiveSince: closeBefore });
        closed.push(done.id);
        await effects.closed(done, () => this.memberTranscript(done));
      } catch (err) {
        // Someone acted on it meanwhile (closed, replied): skip, the next run re-evaluates.
        if (!(err instanceof UserError)) throw err;
      }
    }
    for (const t of await repo.silentTickets(this.db, guildId, warnBefore, null, AUTO_CLOSE_BATCH)) {
      const closesAt = new Date(Math.max(t.last_activity_at.getTime() + policy.autoCloseHours * hour, now.getTime() + lead * hour));
      try {
        await effects.warn(t, closesAt);
      } catch {
        failed.push(t.id);
        continue;
      }
      if (await repo.markWarned(this.db, t.id, t.last_activity_at, now)) warned.push(t.id);
    }
    return { warned, closed, failed };
  }

  // ------------------------------------------------------------------ internals

  private activity(now: Date) {
    return { last_activity_at: now, warned_at: null };
  }

  private async find(id: bigint | string): Promise<Ticket> {
    const key = typeof id === 'bigint' ? id : parseTicketId(id);
    const ticket = await repo.findById(this.db, key);
    if (!ticket) throw new UserError('TICKET_NOT_FOUND', `There is no ticket #${key}.`);
    return ticket;
  }

  private assertCanSee(t: Pick<Ticket, 'id' | 'discord_id' | 'guild_id'>, actor: TicketActor | null): void {
    if (actor && !isStaffFor(t, actor) && t.discord_id !== actor.discordId) {
      throw new UserError(
        'TICKET_FORBIDDEN',
        actor.isStaff
          ? `Ticket ${ticketLabel(t)} belongs to another server — staff act only on their own server's tickets.`
          : `Ticket ${ticketLabel(t)} is not yours — members can only see and act on their own tickets.`,
      );
    }
  }

  /** Staff-only actions: staff of the ticket's own guild, or the admin API (no actor). */
  private assertStaffFor(t: Pick<Ticket, 'id' | 'guild_id'>, actor: TicketActor | null, what: string): void {
    if (actor && !isStaffFor(t, actor)) {
      throw new UserError('TICKET_STAFF_ONLY', `Only this server's support staff can ${what} ticket ${ticketLabel(t)}.`);
    }
  }

  private assertOwner(t: Pick<Ticket, 'id' | 'discord_id'>, actor: TicketActor | null, what: string): void {
    if (!actor || t.discord_id !== actor.discordId) throw new UserError('TICKET_FORBIDDEN', `Only the member who opened ticket ${ticketLabel(t)} can ${what} it.`);
  }

  private assertStaff(actor: TicketActor, what: string): void {
    if (!actor.isStaff) throw new UserError('TICKET_STAFF_ONLY', `Only support staff can ${what}.`);
  }

  private assertActive(t: Pick<Ticket, 'id' | 'status'>, verb: string): void {
    if (t.status === 'closed') {
      throw new UserError('TICKET_CLOSED', `Ticket ${ticketLabel(t)} is closed and cannot be ${verb} — only its transcript and rating remain available.`);
    }
  }

  /**
   * Locks the row, checks access (members: own tickets only), lets `decide` validate and return the patch, applies
   * it, and returns the fresh ticket. Closed tickets are refused unless `allowClosed`.
   */
  private async transition(
    id: bigint | string,
    actor: TicketActor | null,
    decide: (t: TicketRow, tx: Transaction<DB>) => TicketPatch | Promise<TicketPatch>,
    opts: TransitionOptions = {},
  ): Promise<Ticket> {
    const key = typeof id === 'bigint' ? id : parseTicketId(id);
    await this.db.transaction().execute(async (tx) => {
      const row = await repo.lockById(tx, key);
      if (!row) throw new UserError('TICKET_NOT_FOUND', `There is no ticket #${key}.`);
      this.assertCanSee(row, actor);
      if (!opts.allowClosed) this.assertActive(row, 'changed');
      const patch = await decide(row, tx);
      if (Object.keys(patch).length) await repo.updateTicket(tx, key, patch);
      if (opts.audit && (opts.auditWhen?.(row) ?? true)) {
        const fields = Object.keys(patch).filter((k) => k !== 'last_activity_at' && k !== 'warned_at') as (keyof TicketRow)[];
        await writeAudit(tx, {
          actor: { discordId: actor?.discordId ?? null, via: opts.via ?? (actor ? 'discord' : 'system') },
          guildId: row.guild_id,
          action: opts.audit,
          target: `ticket:${key}`,
          before: Object.fromEntries(fields.map((f) => [f, row[f]])),
          after: opts.auditAfter ?? Object.fromEntries(fields.map((f) => [f, (patch as Record<string, unknown>)[f]])),
          reason: opts.reason ?? null,
        });
      }
    });
    return (await repo.findById(this.db, key))!;
  }

  private observeClose(t: Ticket): void {
    if (!this.metrics || !t.closed_at) return;
    const labels = { priority: t.priority };
    this.metrics.ticketResolutionSeconds.observe(labels, (t.closed_at.getTime() - t.created_at.getTime()) / 1000);
    if (t.first_staff_reply_at) {
      this.metrics.ticketFirstResponseSeconds.observe(labels, (t.first_staff_reply_at.getTime() - t.created_at.getTime()) / 1000);
    }
  }
}

interface TransitionOptions {
  allowClosed?: boolean;
  /** Writes one audit_events row with this action in the transition's transaction. */
  audit?: string;
  /** Audit only when this holds for the locked row (default: always). */
  auditWhen?: (t: TicketRow) => boolean;
  auditAfter?: Record<string, unknown>;
  via?: 'admin-api';
  reason?: string | null;
}

/** "42" or "#42" → 42n, with a clear error for anything else. */
export function parseTicketId(value: string): bigint {
  const m = /^#?([1-9]\d{0,17})$/.exec(value.trim());
  if (!m) throw new UserError('TICKET_BAD_ID', `${quote(value, 40)} is not a ticket number (e.g. 42 or #42).`);
  return BigInt(m[1]!);
}
