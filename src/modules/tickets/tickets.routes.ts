import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AppContext } from '../../app-context';
import { UserError } from '../../errors';
import { HttpError } from '../../http/http-error';
import type { Ticket } from './tickets.service';
import { TICKET_PRIORITIES, TICKET_STATUSES } from './tickets.tables';

// How each UserError code reads over HTTP; anything unlisted is a plain 400.
const STATUS: Record<string, number> = {
  TICKET_NOT_FOUND: 404,
  TICKET_CLOSED: 409,
  TICKET_STATE: 409,
  TICKET_ALREADY_CLAIMED: 409,
  TICKET_NOT_CLAIMED: 409,
  TICKET_UNCHANGED: 409,
  TICKET_BAD_CLAIMER: 422,
};

const toHttp = (err: unknown): unknown =>
  err instanceof UserError ? new HttpError(STATUS[err.code] ?? 400, err.code.toLowerCase(), err.message) : err;

const snowflake = z.string().regex(/^\d{15,22}$/, 'must be a Discord snowflake (15-22 digits)');

const listQuery = z
  .object({
    status: z.enum(TICKET_STATUSES).optional(),
    priority: z.enum(TICKET_PRIORITIES).optional(),
    limit: z.coerce.number().int().min(1).max(100).default(20),
    cursor: z.string().regex(/^[1-9]\d{0,18}$/, 'must be a nextCursor value').optional(),
  })
  .strict();

const patchBody = z
  .object({
    status: z.enum(['open', 'closed']).optional(),
    priority: z.enum(TICKET_PRIORITIES).optional(),
    claim: z.union([snowflake, z.null()]).optional(),
    close_reason: z.string().trim().min(1).max(500).optional(),
  })
  .strict()
  .refine((b) => b.status !== undefined || b.priority !== undefined || b.claim !== undefined, {
    message: 'send at least one of status, priority, claim',
  });

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value ?? {});
  if (!r.success) {
    const detail = r.error.issues.map((i) => `${i.path.join('.') || what}: ${i.message}`).join('; ');
    throw new HttpError(400, `invalid_${what}`, detail);
  }
  return r.data;
}

function ticketId(raw: string): bigint {
  if (!/^[1-9]\d{0,17}$/.test(raw)) throw new HttpError(400, 'invalid_ticket_id', 'id must be a positive integer');
  return BigInt(raw);
}

/** Wire shape: ids as strings, timestamps ISO, Discord ids rather than internal user ids. */
export function ticketJson(t: Ticket) {
  const iso = (d: Date | null) => (d ? d.toISOString() : null);
  return {
    id: String(t.id),
    status: t.status,
    priority: t.priority,
    category: t.category,
    subject: t.subject,
    description: t.description,
    discordId: t.discord_id,
    guildId: t.guild_id,
    threadId: t.thread_id,
    claimedBy: t.claimed_by_discord_id,
    linkedRef: t.linked_ref,
    rating: t.rating,
    feedback: t.feedback,
    firstStaffReplyAt: iso(t.first_staff_reply_at),
    lastActivityAt: iso(t.last_activity_at),
    closeRequestedAt: iso(t.close_requested_at),
    warnedAt: iso(t.warned_at),
    closedAt: iso(t.closed_at),
    closedBy: t.closed_by_discord_id,
    closeReason: t.close_reason,
    createdAt: iso(t.created_at),
    updatedAt: iso(t.updated_at),
  };
}

/** `/admin/tickets` (registered inside the bearer-guarded /admin scope). */
export function ticketAdminRoutes(admin: FastifyInstance, ctx: AppContext): void {
  admin.get('/tickets', async (req) => {
    const q = parse(listQuery, req.query, 'query');
    const page = await ctx.services.tickets.adminList(q).catch((err: unknown) => Promise.reject(toHttp(err)));
    return { items: page.items.map(ticketJson), nextCursor: page.nextCursor };
  });

  admin.get<{ Params: { id: string } }>('/tickets/:id', async (req) => {
    const id = ticketId(req.params.id);
    const ticket = await ctx.services.tickets.get(id, null).catch((err: unknown) => Promise.reject(toHttp(err)));
    return ticketJson(ticket);
  });

  admin.patch<{ Params: { id: string } }>('/tickets/:id', async (req) => {
    const id = ticketId(req.params.id);
    const body = parse(patchBody, req.body, 'body');
    const tickets = ctx.services.tickets;
    const ticket = await tickets
      .adminUpdate(id, { status: body.status, priority: body.priority, claim: body.claim, closeReason: body.close_reason })
      .catch((err: unknown) => Promise.reject(toHttp(err)));
    // Archive the thread and send the member the transcript + rating prompt, as a close from Discord would.
    if (ticket.status === 'closed' && body.status === 'closed') await tickets.discord?.closed(ticket);
    return ticketJson(ticket);
  });
}
