import type { ComponentHandler } from '../../discord/component';
import { idArg, refOf, TIP_CANCEL_ACTION } from './ledger.views';

export default {
  action: TIP_CANCEL_ACTION,
  async execute(interaction, arg, ctx) {
    if (!interaction.isButton()) return;
    await ctx.services.ledger.cancelTip(idArg(arg), refOf(interaction.user));
    await interaction.update({ content: 'Tip canceled — nothing was sent.', components: [] });
  },
} satisfies ComponentHandler;
