import { MessageFlags, SlashCommandBuilder } from 'discord.js';
import type { Command } from '../../src/discord/command';
import { depositRequestView } from '../../src/modules/deposits/deposits.views';
import { actor, currencyAutocomplete } from '../../src/modules/ledger/ledger.views';

export default {
  data: new SlashCommandBuilder()
    .setName('deposit')
    .setDescription('Get a Solana Pay link / QR code to top up your balance from your wallet')
    .addStringOption((o) => o.setName('amount').setDescription('How much, e.g. 1.5').setRequired(true).setMaxLength(40))
    .addStringOption((o) => o.setName('currency').setDescription('Default SOL').setAutocomplete(true)),
  // Keyed by the interaction id: a second run returns the same request (the reply outbox replays it).
  replayable: true,
  async execute(interaction, ctx) {
    const { deposits, ledger } = ctx.services;
    // Reserving a reference key and rendering the QR code took up to ~0.8 s in the test suite on a loaded machine;
    // with real database latency that is too close to Discord's 3 s reply window.
    await interaction.deferReply({ flags: MessageFlags.Ephemeral });
    const me = await actor(interaction, ctx);
    const intent = await deposits.create({
      interactionId: interaction.id,
      user: me,
      amount: interaction.options.getString('amount', true),
      currency: interaction.options.getString('currency'),
    });
    const amount = ledger.format(intent.deposit.expected_amount, intent.currency.code);
    await interaction.editReply(depositRequestView(intent, amount, await deposits.qr(intent)));
  },
  autocomplete: currencyAutocomplete,
} satisfies Command;
