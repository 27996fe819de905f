import { MessageFlags, SlashCommandBuilder } from 'discord.js';
import type { Command } from '../../src/discord/command';
import { plansEmbed } from '../../src/modules/billing/billing.views';

/** The memberships this server sells. */
export default {
  data: new SlashCommandBuilder().setName('plans').setDescription('Memberships you can buy on this server'),
  guildOnly: true,
  async execute(interaction, ctx) {
    const billing = ctx.services.billing;
    const plans = await billing.catalog.plans({ guildId: interaction.guildId! });
    await interaction.reply({ embeds: [plansEmbed(billing.currencies, plans)], flags: MessageFlags.Ephemeral, allowedMentions: { parse: [] } });
  },
} satisfies Command;
