import { EmbedBuilder, MessageFlags, SlashCommandBuilder } from 'discord.js';
import { interactionIdentity, isGuildStaff, isOperator } from '../../src/discord/authorize';
import type { Command } from '../../src/discord/command';
import { UserError } from '../../src/errors';
import { auditLine } from '../../src/modules/guilds/guilds.views';

/** The audit log: operators see every event, guild staff only their own server's. */
export default {
  data: new SlashCommandBuilder()
    .setName('audit')
    .setDescription('Recent privileged actions (operators: all; server staff: this server)')
    .addUserOption((o) => o.setName('user').setDescription('Only events by or about this member'))
    .addStringOption((o) => o.setName('action').setDescription('e.g. ticket.claim, guild.settings, ledger.admin_credit').setMaxLength(64)),
  async execute(interaction, ctx) {
    const operator = await isOperator(interaction.user.id, ctx);
    if (!operator && !(await isGuildStaff(interactionIdentity(interaction), ctx))) {
      throw new UserError('FORBIDDEN', "The audit log is for bot operators and this server's staff.");
    }
    const user = interaction.options.getUser('user');
    const action = interaction.options.getString('action')?.trim().toLowerCase() || undefined;
    const page = await ctx.services.guilds.audit({
      // Guild staff: this guild only, whatever they ask for.
      ...(operator ? {} : { guildId: interaction.guildId! }),
      ...(user ? { userDiscordId: user.id } : {}),
      ...(action ? { action } : {}),
      limit: 10,
    });
    const embed = new EmbedBuilder()
      .setTitle(operator ? 'Audit log — all servers' : 'Audit log — this server')
      .setDescription(page.items.length ? page.items.map(auditLine).join('\n') : 'No events match.')
      .setColor(0x99aab5);
    if (page.nextCursor) embed.setFooter({ text: `Older events: GET /admin/audit?cursor=${page.nextCursor}` });
    await interaction.reply({ embeds: [embed], flags: MessageFlags.Ephemeral, allowedMentions: { parse: [] } });
  },
} satisfies Command;
