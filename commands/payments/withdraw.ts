import { MessageFlags, SlashCommandBuilder } from 'discord.js';
import type { Command } from '../../src/discord/command';
import { actor, currencyAutocomplete } from '../../src/modules/ledger/ledger.views';
import { withdrawalText } from '../../src/modules/withdrawals/withdrawals.views';

/** Pays out to the member's verified wallet (/wallet link); large amounts wait for a moderator. */
export default {
  data: new SlashCommandBuilder()
    .setName('withdraw')
    .setDescription('Send funds from your balance to your linked wallet')
    .addStringOption((o) => o.setName('amount').setDescription('How much, e.g. 1.5').setRequired(true).setMaxLength(40))
    .addStringOption((o) => o.setName('currency').setDescription('Default SOL').setAutocomplete(true)),
  // Keyed by the interaction id: a second run returns the same request (the reply outbox replays it).
  replayable: true,
  async execute(interaction, ctx) {
    const { withdrawals, ledger } = ctx.services;
    const me = await actor(interaction, ctx);
    const { withdrawal } = await withdrawals.request({
      interactionId: interaction.id,
      user: me,
      amount: interaction.options.getString('amount', true),
      currency: interaction.options.getString('currency'),
    });
    if (withdrawal.status !== 'approved') {
      await interaction.reply({ content: withdrawalText(ledger.currencies, withdrawal), flags: MessageFlags.Ephemeral });
      return;
    }
    // Signing and sending talk to the cluster, which can take longer than Discord's 3 s reply window.
    await interaction.deferReply({ flags: MessageFlags.Ephemeral });
    const after = await withdrawals.advance(withdrawal.id).catch((err: unknown) => {
      // The debit and the outbox row are committed: the withdrawal-processor job finishes it.
      ctx.log.warn({ err, withdrawalId: withdrawal.id }, 'payout deferred to the processor');
      return withdrawal;
    });
    await interaction.editReply(withdrawalText(ledger.currencies, after));
  },
  autocomplete: currencyAutocomplete,
} satisfies Command;
