import { MessageFlags, SlashCommandBuilder } from 'discord.js';
import type { Command } from '../../src/discord/command';

export default {
  data: new SlashCommandBuilder()
    .setName('rate')
    .setDescription('Rate a member you dealt with (1-5), once a month')
    .addUserOption((o) => o.setName('user').setDescription('Who').setRequired(true))
    .addIntegerOption((o) => o.setName('score').setDescription('1 (bad) to 5 (great)').setRequired(true))
    .addStringOption((o) => o.setName('comment').setDescription('Optional comment').setMaxLength(500)),
  async execute(interaction, ctx) {
    const ratee = interaction.options.getUser('user', true);
    // The range is checked by the service (not setMinValue) so every client gets the same clear error.
    await ctx.services.badges.rate({
      rater: { discordId: interaction.user.id, username: interaction.user.username },
      ratee: { discordId: ratee.id, username: ratee.username, bot: ratee.bot },
      score: interaction.options.getInteger('score', true),
      comment: interaction.options.getString('comment'),
    });
    await interaction.reply({ content: `Thanks — your rating of ${ratee.username} is recorded.`, flags: MessageFlags.Ephemeral });
  },
} satisfies Command;
