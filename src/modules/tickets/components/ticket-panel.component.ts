import type { ComponentHandler } from '../../../discord/component';
import { guildTicketPolicy } from '../tickets.actor';
import { A, openModal } from '../tickets.views';

/** "Open <category> ticket" on the panel: same checks and modal as /ticket open. */
export default {
  action: A.panel,
  async execute(interaction, arg, ctx) {
    if (!interaction.isButton()) return;
    const policy = await guildTicketPolicy(ctx, interaction.guildId);
    const category = ctx.services.tickets.category(arg, policy);
    await ctx.services.tickets.checkCanOpen(interaction.user.id, policy);
    await interaction.showModal(openModal(category, 'normal'));
  },
} satisfies ComponentHandler;
