import type { ComponentHandler } from '../../discord/component';
import { actor, HISTORY_ACTION, historyView } from './ledger.views';

/** Prev/Next on /history: re-renders the clicker's own history (the message is ephemeral, so that is its owner). */
export default {
  action: HISTORY_ACTION,
  async execute(interaction, arg, ctx) {
    if (!interaction.isButton()) return;
    const me = await actor(interaction, ctx);
    const history = await ctx.services.ledger.history(me, Number.parseInt(arg, 10) || 1);
    await interaction.update(historyView(ctx.services.ledger, history));
  },
} satisfies ComponentHandler;
