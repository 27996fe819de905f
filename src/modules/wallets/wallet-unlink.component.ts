import { MessageFlags } from 'discord.js';
import type { ComponentHandler } from '../../discord/component';
import { UNLINK_ACTION } from './wallets.views';

/** The confirm/cancel buttons of /wallet unlink; the arg is the address shown, or 'cancel'. */
export default {
  action: UNLINK_ACTION,
  async execute(interaction, arg, ctx) {
    if (!interaction.isButton()) return;
    if (arg === 'cancel') {
      await interaction.update({ content: 'Kept your wallet linked.', components: [] });
      return;
    }
    const { address } = await ctx.services.wallets.unlink(interaction.user.id, arg);
    await interaction.update({ content: `Unlinked \`${address}\`. Use \`/wallet link\` to link a wallet again.`, components: [] });
    // A trust badge lives in the wallet just unlinked: it is revoked (burned, mint closed).
    const badge = await ctx.services.badges.onWalletUnlinked(interaction.user.id);
    if (badge) await interaction.followUp({ content: `Your trust badge was revoked along with the wallet (${badge.status}).`, flags: MessageFlags.Ephemeral });
  },
} satisfies ComponentHandler;
