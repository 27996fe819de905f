import { MessageFlags } from 'discord.js';
import type { ComponentHandler } from '../../../discord/component';
import { createTicketThread } from '../tickets.discord';
import { guildTicketPolicy } from '../tickets.actor';
import { A } from '../tickets.views';

/** The "new ticket" modal (from /ticket open or a panel button): row first, then the private thread. */
export default {
  action: A.open,
  async execute(interaction, arg, ctx) {
    if (!interaction.isModalSubmit()) return;
    const [category, priority] = arg.split(':');
    const tickets = ctx.services.tickets;
    await interaction.deferReply({ flags: MessageFlags.Ephemeral });
    const { ticket, created } = await tickets.open(
      {
        opener: { discordId: interaction.user.id, username: interaction.user.username },
        guildId: interaction.guildId,
        category,
        priority,
        subject: interaction.fields.getTextInputValue('subject'),
        description: interaction.fields.getTextInputValue('description'),
        sourceInteractionId: interaction.id,
      },
      await guildTicketPolicy(ctx, interaction.guildId),
    );
    let threadId = ticket.thread_id;
    if (!created && !threadId) {
      // The same interaction delivered twice while the first delivery is still creating the thread.
      await interaction.editReply(`🎫 Ticket **#${ticket.id}** is being set up — its thread will appear in a moment.`);
      return;
    }
    if (created) {
      try {
        const made = await createTicketThread(interaction.client, ctx, ticket, interaction.channelId);
        threadId = made.threadId;
        await tickets.attachThread(ticket.id, made.threadId, made.messageId);
      } catch (err) {
        // Without a thread nobody can see the ticket: drop it so it does not count against the member's limit.
        await tickets.abandon(ticket.id);
        throw err;
      }
    }
    await interaction.editReply(`🎫 Ticket **#${ticket.id}** opened: <#${threadId}>. Support has been notified — follow up there.`);
  },
} satisfies ComponentHandler;
