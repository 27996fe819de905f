import { SlashCommandBuilder } from 'discord.js';
import type { Command } from '../../src/discord/command';
import { MAX_AIRDROP_CLAIMS } from '../../src/modules/ledger/ledger.service';
import { parseDuration } from '../../src/modules/ledger/duration';
import { actor, airdropView, currencyAutocomplete } from '../../src/modules/ledger/ledger.views';

export default {
  data: new SlashCommandBuilder()
    .setName('airdrop')
    .setDescription('Drop an amount for the first members who click Claim')
    .addStringOption((o) => o.setName('amount').setDescription('Total to drop, split equally between the claims').setRequired(true))
    .addIntegerOption((o) => o.setName('claims').setDescription('How many members can claim').setRequired(true).setMinValue(1).setMaxValue(MAX_AIRDROP_CLAIMS))
    .addStringOption((o) => o.setName('duration').setDescription('How long it stays open: 30s, 10m, 2h, 1d').setRequired(true))
    .addStringOption((o) => o.setName('currency').setDescription('Default SOL').setAutocomplete(true)),
  guildOnly: true,
  async execute(interaction, ctx) {
    const ledger = ctx.services.ledger;
    const me = await actor(interaction, ctx);
    const { airdrop } = await ledger.createAirdrop({
      interactionId: interaction.id,
      creator: me,
      amount: interaction.options.getString('amount', true),
      currency: interaction.options.getString('currency'),
      claims: interaction.options.getInteger('claims', true),
      durationSeconds: parseDuration(interaction.options.getString('duration', true)),
      guildId: interaction.guildId,
      channelId: interaction.channelId,
    });
    await interaction.reply({ content: `<@${me.discordId}> started an airdrop`, ...airdropView(ledger, airdrop), allowedMentions: { parse: [] } });
    const message = await interaction.fetchReply();
    await ledger.setAirdropMessage(airdrop.id, message.channelId, message.id);
  },
  autocomplete: currencyAutocomplete,
} satisfies Command;
