import { SlashCommandBuilder } from 'discord.js';
import type { Command } from '../../src/discord/command';
import { MAX_RAIN_COUNT } from '../../src/modules/ledger/ledger.service';
import { actor, currencyAutocomplete, tipText } from '../../src/modules/ledger/ledger.views';

export default {
  data: new SlashCommandBuilder()
    .setName('rain')
    .setDescription('Split an amount among the members most recently active here (last 24 h)')
    .addStringOption((o) => o.setName('amount').setDescription('Total, split equally').setRequired(true))
    .addIntegerOption((o) => o.setName('count').setDescription('How many members').setRequired(true).setMinValue(1).setMaxValue(MAX_RAIN_COUNT))
    .addStringOption((o) => o.setName('currency').setDescription('Default SOL').setAutocomplete(true)),
  guildOnly: true,
  cooldownSeconds: 5,
  async execute(interaction, ctx) {
    const ledger = ctx.services.ledger;
    const me = await actor(interaction, ctx);
    const result = await ledger.rain({
      interactionId: interaction.id,
      guildId: interaction.guildId!,
      sender: me,
      amount: interaction.options.getString('amount', true),
      currency: interaction.options.getString('currency'),
      count: interaction.options.getInteger('count', true),
    });
    await interaction.reply({ content: tipText(ledger, me, result, null, 'rain'), allowedMentions: { users: result.receivers.map((r) => r.discordId) } });
  },
  autocomplete: currencyAutocomplete,
} satisfies Command;
