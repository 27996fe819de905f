import { MessageFlags } from 'discord.js';
import type { ComponentHandler } from '../../discord/component';
import { UserError } from '../../errors';
import { actor, AIRDROP_CLAIM_ACTION, airdropView, idArg } from './ledger.views';

const CLOSED = new Set(['AIRDROP_EXPIRED', 'AIRDROP_EMPTY']);

export default {
  action: AIRDROP_CLAIM_ACTION,
  async execute(interaction, arg, ctx) {
    if (!interaction.isButton()) return;
    const ledger = ctx.services.ledger;
    const me = await actor(interaction, ctx);
    try {
      const { airdrop, amount, currency } = await ledger.claimAirdrop(idArg(arg), me);
      await interaction.update(airdropView(ledger, airdrop));
      await interaction.followUp({ content: `🪂 You claimed ${ledger.format(amount, currency.code)}!`, flags: MessageFlags.Ephemeral });
    } catch (err) {
      // The message still offered a Claim button: show everyone the airdrop is over, then report the error.
      const latest = err instanceof UserError && CLOSED.has(err.code) ? await ledger.getAirdrop(idArg(arg)) : undefined;
      if (latest) await interaction.update(airdropView(ledger, latest));
      throw err;
    }
  },
} satisfies ComponentHandler;
