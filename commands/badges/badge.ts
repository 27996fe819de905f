import { MessageFlags, SlashCommandBuilder, type ChatInputCommandInteraction } from 'discord.js';
import type { AppContext } from '../../src/app-context';
import { isOperator } from '../../src/discord/authorize';
import type { Command } from '../../src/discord/command';
import { UserError } from '../../src/errors';
import { badgeEmbed, termsMessage } from '../../src/modules/badges/badges.views';

async function terms(interaction: ChatInputCommandInteraction, ctx: AppContext) {
  const s = await ctx.services.badges.termsStatus(interaction.user.id);
  await interaction.reply({ ...termsMessage(s.version, s.acceptedAt), flags: MessageFlags.Ephemeral });
}

async function claim(interaction: ChatInputCommandInteraction, ctx: AppContext) {
  // Minting waits for the chain: acknowledge first.
  await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  const { badge, queuedReason } = await ctx.services.badges.claim({ discordId: interaction.user.id, username: interaction.user.username, bot: interaction.user.bot });
  const rep = await ctx.services.badges.reputation(interaction.user.id);
  await interaction.editReply({
    content: queuedReason ?? `🎖️ Your trust badge is minted to \`${badge.wallet}\`.`,
    embeds: [badgeEmbed(interaction.user.username, badge, rep, ctx.config.PUBLIC_URL)],
  });
}

async function show(interaction: ChatInputCommandInteraction, ctx: AppContext) {
  const user = interaction.options.getUser('user') ?? interaction.user;
  const [badge, rep] = await Promise.all([ctx.services.badges.show(user.id), ctx.services.badges.reputation(user.id)]);
  await interaction.reply({ embeds: [badgeEmbed(user.username, badge, rep, ctx.config.PUBLIC_URL)] });
}

async function revoke(interaction: ChatInputCommandInteraction, ctx: AppContext) {
  // Operators only (the whole /badge command is open to members, so this subcommand checks itself).
  if (!(await isOperator(interaction.user.id, ctx))) {
    throw new UserError('FORBIDDEN', 'Only operators can revoke badges.');
  }
  await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  const target = interaction.options.getUser('user', true);
  const badge = await ctx.services.badges.revoke({ discordId: target.id }, interaction.options.getString('reason', true), { discordId: interaction.user.id, via: 'discord' }, interaction.guildId);
  await interaction.editReply(
    badge.status === 'revoked' ? `Revoked ${target.username}'s badge (burned, mint closed).` : `Revoking ${target.username}'s badge — it is ${badge.status}; the processor finishes it.`,
  );
}

export default {
  data: new SlashCommandBuilder()
    .setName('badge')
    .setDescription('Soulbound trust badges')
    .addSubcommand((s) => s.setName('terms').setDescription('Read and accept the badge terms'))
    .addSubcommand((s) => s.setName('claim').setDescription('Mint your trust badge to your verified wallet'))
    .addSubcommand((s) =>
      s
        .setName('show')
        .setDescription("Show a member's badge and reputation")
        .addUserOption((o) => o.setName('user').setDescription('Whose badge (default: yours)')),
    )
    .addSubcommand((s) =>
      s
        .setName('revoke')
        .setDescription('Operators: burn a badge and close its mint')
        .addUserOption((o) => o.setName('user').setDescription('Holder').setRequired(true))
        .addStringOption((o) => o.setName('reason').setDescription('Why').setRequired(true).setMaxLength(300)),
    ),
  async execute(interaction, ctx) {
    switch (interaction.options.getSubcommand()) {
      case 'terms':
        return terms(interaction, ctx);
      case 'claim':
        return claim(interaction, ctx);
      case 'show':
        return show(interaction, ctx);
      case 'revoke':
        return revoke(interaction, ctx);
      default:
        throw new UserError('UNKNOWN_SUBCOMMAND', 'Unknown subcommand.');
    }
  },
} satisfies Command;
