import type { AppContext } from '../../app-context';
import { UserError } from '../../errors';
import type { AdminTicketPatch, Ticket, TicketActor } from './tickets.service';

/**
 * One function per ticket verb, shared by the `/ticket` subcommand, its button/select/modal and the admin API: the
 * service call, the Discord effects the change needs (card refresh, a line in the thread, the close) and the reply
 * text. Callers only parse their input and show `reply`. Effects go through the `ctx.effects.tickets` port, so a
 * change made over HTTP redraws the card exactly like one made in Discord; without Discord there is nothing to draw.
 */
export interface TicketOutcome {
  ticket: Ticket;
  /** The ephemeral answer to the person who acted. */
  reply: string;
}

// Public lines in the thread (the member reads them): one wording per verb, whoever acted.
const claimedLine = (claimerDiscordId: string) => `🙋 <@${claimerDiscordId}> claimed this ticket and will help you.`;
const UNCLAIMED_LINE = '↩️ This ticket is back in the support queue.';
const priorityLine = (t: Ticket) => `Priority set to **${t.priority}**.`;

async function changed(ctx: AppContext, ticket: Ticket, line?: string): Promise<void> {
  await ctx.effects.tickets?.changed(ticket, line);
}

/** Announces the close, archives the thread and DMs the member the transcript (each step best effort). */
export async function ticketClosed(ctx: AppContext, ticket: Ticket): Promise<void> {
  await ctx.effects.tickets?.closed(ticket, () => ctx.services.tickets.memberTranscript(ticket));
}

export async function claimTicket(ctx: AppContext, actor: TicketActor, id: bigint): Promise<TicketOutcome> {
  const ticket = await ctx.services.tickets.claim(id, actor);
  await changed(ctx, ticket, claimedLine(actor.discordId));
  return { ticket, reply: `🙋 You claimed ticket #${ticket.id}.` };
}

export async function unclaimTicket(ctx: AppContext, actor: TicketActor, id: bigint): Promise<TicketOutcome> {
  const ticket = await ctx.services.tickets.unclaim(id, actor);
  await changed(ctx, ticket, UNCLAIMED_LINE);
  return { ticket, reply: `↩️ Ticket #${ticket.id} unclaimed.` };
}

export async function setTicketPriority(ctx: AppContext, actor: TicketActor, id: bigint, priority: string): Promise<TicketOutcome> {
  const ticket = await ctx.services.tickets.setPriority(id, actor, priority);
  const line = priorityLine(ticket);
  await changed(ctx, ticket, line);
  return { ticket, reply: `✅ Ticket #${ticket.id}: ${line}` };
}

export async function linkTicket(ctx: AppContext, actor: TicketActor, id: bigint, ref: string): Promise<TicketOutcome> {
  const ticket = await ctx.services.tickets.link(id, actor, ref);
  await changed(ctx, ticket, `🔗 Linked **${ticket.linked_ref}**.`);
  return { ticket, reply: `🔗 Ticket #${ticket.id} linked to ${ticket.linked_ref}.` };
}

/** `/ticket reply`: recorded in the transcript and echoed in the thread under the author's name. */
export async function replyToTicket(ctx: AppContext, actor: TicketActor, id: bigint, message: string, interactionId: string): Promise<TicketOutcome> {
  const ticket = await ctx.services.tickets.reply(id, actor, message, interactionId);
  await changed(ctx, ticket, `💬 **${actor.username}**${actor.isStaff ? ' (staff)' : ''}: ${message.trim()}`);
  return { ticket, reply: `✅ Added to ticket #${ticket.id}.` };
}

/** Checked before the note form opens, so nobody types a note that cannot be saved. */
export async function checkCanNote(ctx: AppContext, actor: TicketActor, id: bigint): Promise<Ticket> {
  if (!actor.isStaff) throw new UserError('TICKET_STAFF_ONLY', 'Only support staff can add staff notes.');
  const ticket = await ctx.services.tickets.get(id, actor);
  if (ticket.status === 'closed') throw new UserError('TICKET_CLOSED', `Ticket #${ticket.id} is closed and cannot be annotated.`);
  return ticket;
}

/** Saves a staff note. Deliberately posts nothing in the thread: the member is a thread member. */
export async function addTicketNote(ctx: AppContext, actor: TicketActor, id: bigint, note: string, externalId: string): Promise<TicketOutcome> {
  const ticket = await ctx.services.tickets.addNote(id, actor, note, externalId);
  return { ticket, reply: `🔒 Staff note saved on ticket #${ticket.id} (never shown to the member).` };
}

export async function requestTicketClose(ctx: AppContext, actor: TicketActor, id: bigint): Promise<TicketOutcome> {
  const ticket = await ctx.services.tickets.requestClose(id, actor);
  await ctx.effects.tickets?.closeRequested(ticket);
  return { ticket, reply: `⏳ Asked <@${ticket.discord_id}> to confirm closing ticket #${ticket.id}.` };
}

/** Checked before the close form opens. Staff may close any ticket, members their own. */
export async function checkCanClose(ctx: AppContext, actor: TicketActor, id: bigint): Promise<Ticket> {
  const ticket = await ctx.services.tickets.get(id, actor);
  if (ticket.status === 'closed') throw new UserError('TICKET_CLOSED', `Ticket #${ticket.id} is already closed.`);
  return ticket;
}

/** Checked before the feedback form opens: the opener, once. */
export async function checkCanGiveFeedback(ctx: AppContext, actor: TicketActor, id: bigint): Promise<Ticket> {
  const ticket = await ctx.services.tickets.get(id, actor);
  if (ticket.discord_id !== actor.discordId) throw new UserError('TICKET_FORBIDDEN', `Only the member who opened ticket #${ticket.id} can leave feedback on it.`);
  if (ticket.feedback !== null) throw new UserError('TICKET_ALREADY_RATED', `You already left feedback on ticket #${ticket.id}.`);
  return ticket;
}

export async function closeTicket(ctx: AppContext, actor: TicketActor, id: bigint, reason: string | undefined): Promise<TicketOutcome> {
  const ticket = await ctx.services.tickets.close(id, actor, reason);
  await ticketClosed(ctx, ticket);
  return { ticket, reply: `🔒 Ticket #${ticket.id} closed; the thread is archived.` };
}

/**
 * `PATCH /admin/tickets/:id`: the same service rules, then the same effects a command would have (a claim posts the
 * claim line, a close archives and DMs). The change is committed before Discord is touched: a Discord failure is
 * logged, not turned into an error for a change that happened.
 */
export async function adminUpdateTicket(ctx: AppContext, id: bigint, patch: AdminTicketPatch): Promise<Ticket> {
  const ticket = await ctx.services.tickets.adminUpdate(id, patch);
  if (ticket.status === 'closed') {
    await ticketClosed(ctx, ticket);
    return ticket;
  }
  const lines = [
    ...(typeof patch.claim === 'string' ? [claimedLine(patch.claim)] : patch.claim === null ? [UNCLAIMED_LINE] : []),
    ...(patch.priority ? [priorityLine(ticket)] : []),
  ];
  await changed(ctx, ticket, lines.join('\n') || undefined).catch((err: unknown) =>
    ctx.log.warn({ err, ticket: String(ticket.id) }, 'could not show an admin API ticket change in Discord'),
  );
  return ticket;
}
