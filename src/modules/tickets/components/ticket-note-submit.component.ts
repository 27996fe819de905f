import { MessageFlags } from 'discord.js';
import type { ComponentHandler } from '../../../discord/component';
import { addTicketNote } from '../tickets.actions';
import { ticketActor } from '../tickets.actor';
import { parseTicketId } from '../tickets.service';
import { A } from '../tickets.views';

/** The staff-note form (from the card's button or /ticket note). */
export default {
  action: A.noteSubmit,
  async execute(interaction, arg, ctx) {
    if (!interaction.isModalSubmit()) return;
    const actor = await ticketActor(interaction, ctx);
    const { reply } = await addTicketNote(ctx, actor, parseTicketId(arg), interaction.fields.getTextInputValue('text'), interaction.id);
    await interaction.reply({ content: reply, flags: MessageFlags.Ephemeral });
  },
} satisfies ComponentHandler;
