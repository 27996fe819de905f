import { MessageFlags } from 'discord.js';
import type { ComponentHandler } from '../../../discord/component';
import { parseTicketId } from '../tickets.service';
import { A, ticketActor } from '../tickets.discord';

/** Saves a staff note. Deliberately posts nothing in the thread: the member is a thread member. */
export default {
  action: A.noteSubmit,
  async execute(interaction, arg, ctx) {
    if (!interaction.isModalSubmit()) return;
    const actor = await ticketActor(interaction, ctx);
    const ticket = await ctx.services.tickets.addNote(parseTicketId(arg), actor, interaction.fields.getTextInputValue('text'), interaction.id);
    await interaction.reply({ content: `🔒 Staff note saved on ticket #${ticket.id} (never shown to the member).`, flags: MessageFlags.Ephemeral });
  },
} satisfies ComponentHandler;
