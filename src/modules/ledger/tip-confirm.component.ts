import type { ComponentHandler } from '../../discord/component';
import { actor, idArg, TIP_CONFIRM_ACTION, tipText } from './ledger.views';

/** Confirm on a large /tip: executes it under the original interaction id, so double clicks send once. */
export default {
  action: TIP_CONFIRM_ACTION,
  async execute(interaction, arg, ctx) {
    if (!interaction.isButton()) return;
    const ledger = ctx.services.ledger;
    const me = await actor(interaction, ctx);
    const result = await ledger.confirmTip(idArg(arg), me);
    await interaction.update({ content: `✅ Sent. Your balance: ${ledger.format(result.senderBalance, result.currency.code)}.`, components: [] });
    if (!result.replayed) {
      await interaction.followUp({ content: tipText(ledger, me, result, null), allowedMentions: { users: result.receivers.map((r) => r.discordId) } });
    }
  },
} satisfies ComponentHandler;
