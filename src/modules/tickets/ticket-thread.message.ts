import type { Message, PartialMessage } from 'discord.js';
import type { MessageHandler } from '../../discord/message-handler';
import { messageTicketActor } from './tickets.actor';

/** A thread message as the transcript records it: its text and a line per attachment. */
function transcriptBody(message: Message | PartialMessage): string {
  const attachments = [...message.attachments.values()].map((a) => `📎 ${a.name} ${a.url}`);
  return [message.content ?? '', ...attachments].filter((part) => part.trim()).join('\n');
}

/**
 * What members and staff write in a ticket thread goes into the transcript, like `/ticket reply` does, and so do
 * their later edits and deletions (the transcript keeps the first text and marks a deletion, so nothing said is
 * lost). The message id is the idempotency key, so a replayed MESSAGE_CREATE records nothing twice.
 */
export default {
  name: 'ticket-thread',
  async execute(message, ctx) {
    // Our own echoes of /ticket reply and announcements are already in the transcript (or are not messages of it).
    if (message.author.bot || message.webhookId || message.system || !message.channel.isThread()) return;
    const body = transcriptBody(message);
    if (!body) return;
    const ticket = await ctx.services.tickets.findByThread(message.channelId);
    if (!ticket || ticket.status === 'closed') return;
    const actor = await messageTicketActor(message, ctx);
    await ctx.services.tickets.recordThreadMessage(message.channelId, actor, body, message.id);
  },
  // Only messages already in the transcript are touched, so the author needs no check here (bots' never are).
  async edited(message, ctx) {
    if (message.partial || !message.channel.isThread()) return;
    await ctx.services.tickets.recordThreadEdit(message.channelId, message.id, transcriptBody(message));
  },
  async deleted(message, ctx) {
    // An uncached (partial) message still names its channel; only threads hold transcribed messages.
    if (!message.client.channels.cache.get(message.channelId)?.isThread()) return;
    await ctx.services.tickets.recordThreadDelete(message.channelId, message.id);
  },
} satisfies MessageHandler;
