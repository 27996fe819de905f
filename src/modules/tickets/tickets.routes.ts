import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../../app-context';
import { snowflake } from '../../http/schemas';
import { adminUpdateTicket } from './tickets.actions';
import type { Ticket } from './tickets.service';
import { TICKET_PRIORITIES, TICKET_STATUSES } from './tickets.tables';

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

// Named ticketId (not id) so a bad one reads as invalid_ticket_id.
const ticketParams = z.object({ ticketId: z.string().regex(/^[1-9]\d{0,17}$/, 'must be a positive integer').transform(BigInt) });

const iso = z.string().nullable();
const ticketSchema = z
  .object({
    id: z.string(),
    status: z.enum(TICKET_STATUSES),
    priority: z.enum(TICKET_PRIORITIES),
    category: z.string(),
    subject: z.string(),
    description: z.string(),
    discordId: z.string(),
    guildId: z.string().nullable(),
    threadId: z.string().nullable(),
    claimedBy: z.string().nullable(),
    linkedRef: z.string().nullable(),
    rating: z.number().int().nullable(),
    feedback: z.string().nullable(),
    firstStaffReplyAt: iso,
    lastActivityAt: iso,
    closeRequestedAt: iso,
    warnedAt: iso,
    closedAt: iso,
    closedBy: z.string().nullable(),
    closeReason: z.string().nullable(),
    createdAt: iso,
    updatedAt: iso,
  })
  .meta({ id: 'Ticket' });

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
  const api = admin.withTypeProvider<ZodTypeProvider>();
  const tickets = ctx.services.tickets;

  api.get(
    '/tickets',
    {
      schema: {
        summary: 'Tickets, newest first, filtered and paged by cursor',
        querystring: listQuery,
        response: { 200: z.object({ items: z.array(ticketSchema), nextCursor: z.string().nullable() }) },
      },
    },
    async (req) => {
      const page = await tickets.adminList(req.query);
      return { items: page.items.map(ticketJson), nextCursor: page.nextCursor };
    },
  );

  api.get(
    '/tickets/:ticketId',
    { schema: { summary: 'One ticket', params: ticketParams, response: { 200: ticketSchema } } },
    async (req) => {
      return ticketJson(await tickets.get(req.params.ticketId, null));
    },
  );

  api.patch(
    '/tickets/:ticketId',
    { schema: { summary: 'Change status, priority or claim', params: ticketParams, body: patchBody, response: { 200: ticketSchema } } },
    async (req) => {
      const { body } = req;
      const ticket = await adminUpdateTicket(ctx, req.params.ticketId, {
        status: body.status,
        priority: body.priority,
        claim: body.claim,
        closeReason: body.close_reason,
      });
      return ticketJson(ticket);
    },
  );
}
