import { MessageFlags, SlashCommandBuilder } from 'discord.js';
import type { Command } from '../../src/discord/command';
import { actor, historyView } from '../../src/modules/ledger/ledger.views';

export default {
  data: new SlashCommandBuilder()
    .setName('history')
    .setDescription('Your recent tips, credits and airdrops (only you can see them)')
    .addIntegerOption((o) => o.setName('page').setDescription('Page number').setMinValue(1)),
  async execute(interaction, ctx) {
    const me = await actor(interaction, ctx);
    const history = await ctx.services.ledger.history(me, interaction.options.getInteger('page') ?? 1);
    await interaction.reply({ ...historyView(ctx.services.ledger, history), flags: MessageFlags.Ephemeral });
  },
} satisfies Command;
