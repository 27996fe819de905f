import { EmbedBuilder, MessageFlags, SlashCommandBuilder } from 'discord.js';
import type { Command } from '../../src/discord/command';
import { actor, currencyAutocomplete } from '../../src/modules/ledger/ledger.views';

export default {
  data: new SlashCommandBuilder()
    .setName('balance')
    .setDescription('Show your balances (only you can see them)')
    .addStringOption((o) => o.setName('currency').setDescription('Only this currency').setAutocomplete(true)),
  async execute(interaction, ctx) {
    const ledger = ctx.services.ledger;
    const me = await actor(interaction, ctx);
    const code = interaction.options.getString('currency');
    const wanted = code ? ledger.currencies.get(code).code : undefined;
    const rows = (await ledger.balances(me)).filter((b) => !wanted || b.currency.code === wanted);
    const embed = new EmbedBuilder()
      .setTitle('Your balance')
      .setColor(0x14f195)
      .setDescription(rows.map((b) => `**${ledger.format(b.amount, b.currency.code)}**`).join('\n'));
    await interaction.reply({ embeds: [embed], flags: MessageFlags.Ephemeral });
  },
  autocomplete: currencyAutocomplete,
} satisfies Command;
