import type { MessageHandler } from '../../discord/message-handler';
import { messageTicketActor } from './tickets.actor';

/**
 * What members and staff write in a ticket thread goes into the transcript, like `/ticket reply` does. The message id
 * is the idempotency key, so a replayed MESSAGE_CREATE records nothing twice.
 */
export default {
  name: 'ticket-thread',
  async execute(message, ctx) {
    // Our own echoes of /ticket reply and announcements are already in the transcript (or are not messages of it).
    if (message.author.bot || message.webhookId || message.system || !message.channel.isThread()) return;
    const attachments = [...message.attachments.values()].map((a) => `📎 ${a.name} ${a.url}`);
    const body = [message.content, ...attachments].filter((part) => part.trim()).join('\n');
    if (!body) return;
    const ticket = await ctx.services.tickets.findByThread(message.channelId);
    if (!ticket || ticket.status === 'closed') return;
    const actor = await messageTicketActor(message, ctx);
    await ctx.services.tickets.recordThreadMessage(message.channelId, actor, body, message.id);
  },
} satisfies MessageHandler;
