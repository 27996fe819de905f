import { MessageFlags, SlashCommandBuilder } from 'discord.js';
import type { Command } from '../../src/discord/command';

/** Staff: admit a member to an invite-only plan (once, until the invite expires). */
export default {
  data: new SlashCommandBuilder()
    .setName('invite')
    .setDescription('Staff: invite a member to an invite-only plan')
    .addUserOption((o) => o.setName('user').setDescription('Member').setRequired(true))
    .addStringOption((o) => o.setName('plan').setDescription('Plan code').setRequired(true).setMaxLength(32))
    .addIntegerOption((o) => o.setName('days').setDescription('Days the invite stays open (default 7)').setMinValue(1).setMaxValue(365)),
  guildOnly: true,
  requires: 'guild-staff',
  async execute(interaction, ctx) {
    const user = interaction.options.getUser('user', true);
    const days = interaction.options.getInteger('days');
    const invite = await ctx.services.billing.catalog.invite(
      { discordId: interaction.user.id, via: 'discord' },
      { guildId: interaction.guildId!, plan: interaction.options.getString('plan', true), user: { discordId: user.id, username: user.username, bot: user.bot }, ...(days !== null && { days }) },
    );
    return interaction.reply({
      content: `✉️ <@${user.id}> is invited to \`${interaction.options.getString('plan', true).trim().toLowerCase()}\` until <t:${Math.floor(invite.expires_at.getTime() / 1000)}:f>; they can now /subscribe.`,
      flags: MessageFlags.Ephemeral,
      allowedMentions: { parse: [] },
    });
  },
} satisfies Command;
