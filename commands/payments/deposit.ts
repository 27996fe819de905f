import { AttachmentBuilder, MessageFlags, SlashCommandBuilder, time, TimestampStyles } from 'discord.js';
import type { Command } from '../../src/discord/command';
import { actor, currencyAutocomplete } from '../../src/modules/ledger/ledger.views';

export default {
  data: new SlashCommandBuilder()
    .setName('deposit')
    .setDescription('Get a Solana Pay link / QR code to top up your balance from your wallet')
    .addStringOption((o) => o.setName('amount').setDescription('How much, e.g. 1.5').setRequired(true).setMaxLength(40))
    .addStringOption((o) => o.setName('currency').setDescription('Default SOL').setAutocomplete(true)),
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
    const qr = new AttachmentBuilder(await deposits.qr(intent), { name: `deposit-${intent.deposit.id}.png` });
    await interaction.editReply({
      content: [
        `**Deposit #${intent.deposit.id}: ${amount}** — scan the QR code with a Solana Pay wallet, or open this link in your wallet:`,
        `\`${intent.url}\``,
        `It pays the bot's treasury \`${intent.deposit.recipient}\` and is matched to you by its reference key, so pay with this link ` +
          `(a plain transfer without the reference cannot be matched). Your balance is credited with what arrives, usually ` +
          `within a minute; this request expires ${time(intent.deposit.expires_at, TimestampStyles.RelativeTime)}.`,
      ].join('\n'),
      files: [qr],
    });
  },
  autocomplete: currencyAutocomplete,
} satisfies Command;
