import type { ComponentHandler } from '../../discord/component';
import { actor, HISTORY_ACTION, historyView, parseHistoryArg } from './ledger.views';

/**
 * Prev/Next on /history: re-renders the clicker's own history (the message is ephemeral, so that is its owner) from
 * the keyset cursor in the button.
 */
export default {
  action: HISTORY_ACTION,
  async execute(interaction, arg, ctx) {
    if (!interaction.isButton()) return;
    const me = await actor(interaction, ctx);
    const { page, cursor } = parseHistoryArg(arg);
    const history = await ctx.services.ledger.history(me, page, cursor);
    await interaction.update(historyView(ctx.services.ledger, history));
  },
} satisfies ComponentHandler;
