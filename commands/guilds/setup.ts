import { ChannelType, MessageFlags, PermissionFlagsBits, SlashCommandBuilder } from 'discord.js';
import type { Command } from '../../src/discord/command';
import { UserError } from '../../src/errors';
import { parseCategories, type GuildSettingsPatch } from '../../src/modules/guilds/guilds.service';
import { settingsEmbed } from '../../src/modules/guilds/guilds.views';

const RESETTABLE: Record<string, (keyof GuildSettingsPatch)[]> = {
  'support-channel': ['supportChannelId'],
  'staff-role': ['staffRoleId'],
  'log-channel': ['logChannelId'],
  categories: ['ticketCategories'],
  'ticket-limits': ['maxOpenTickets', 'openCooldownSeconds'],
  'auto-close': ['autoCloseHours', 'autoCloseWarningHours'],
};

/**
 * This server's settings; changes apply to the next ticket, no restart. Changing them needs Manage Server; the staff
 * role may look (so no default_member_permissions: Discord would hide the command from them).
 */
export default {
  data: new SlashCommandBuilder()
    .setName('setup')
    .setDescription("This server's bot settings (Manage Server)")
    .setDMPermission(false)
    .addSubcommand((s) =>
      s
        .setName('tickets')
        .setDescription('Support tickets: channel, staff role, categories, limits')
        .addChannelOption((o) => o.setName('channel').setDescription('Text channel whose private threads hold tickets').addChannelTypes(ChannelType.GuildText))
        .addRoleOption((o) => o.setName('staff-role').setDescription('Role pinged on new tickets; its members are staff here'))
        .addStringOption((o) => o.setName('categories').setDescription('Comma-separated, e.g. general,billing,bug').setMaxLength(900))
        .addIntegerOption((o) => o.setName('max-open').setDescription('Open tickets per member').setMinValue(1).setMaxValue(50))
        .addIntegerOption((o) => o.setName('cooldown').setDescription('Seconds between two tickets of a member').setMinValue(0).setMaxValue(86_400))
        .addNumberOption((o) => o.setName('auto-close-hours').setDescription('Close after this many quiet hours').setMinValue(0.1).setMaxValue(8760))
        .addNumberOption((o) => o.setName('warning-hours').setDescription('Warn this many hours before the auto-close').setMinValue(0.1).setMaxValue(8760)),
    )
    .addSubcommand((s) =>
      s
        .setName('log-channel')
        .setDescription('Where the bot posts this server’s log')
        .addChannelOption((o) => o.setName('channel').setDescription('Text channel').setRequired(true).addChannelTypes(ChannelType.GuildText)),
    )
    .addSubcommand((s) =>
      s
        .setName('reset')
        .setDescription('Go back to the default for a setting')
        .addStringOption((o) =>
          o
            .setName('setting')
            .setDescription('Which one')
            .setRequired(true)
            .addChoices(...Object.keys(RESETTABLE).map((k) => ({ name: k, value: k }))),
        ),
    )
    .addSubcommand((s) => s.setName('show').setDescription('Show this server’s settings')),
  requires: 'guild-staff',
  guildOnly: true,
  async execute(interaction, ctx) {
    const guilds = ctx.services.guilds;
    const guildId = interaction.guildId!;
    const sub = interaction.options.getSubcommand(true);
    if (sub === 'show') {
      await interaction.reply({ embeds: [settingsEmbed(await guilds.settings(guildId))], flags: MessageFlags.Ephemeral, allowedMentions: { parse: [] } });
      return;
    }
    // The staff role may see the settings; changing them (including who is staff) takes Manage Server.
    if (!interaction.memberPermissions?.has(PermissionFlagsBits.ManageGuild)) {
      throw new UserError('FORBIDDEN', 'Changing server settings needs Manage Server.');
    }
    let patch: GuildSettingsPatch;
    if (sub === 'tickets') {
      const o = interaction.options;
      const categories = o.getString('categories');
      patch = {
        ...(o.getChannel('channel') ? { supportChannelId: o.getChannel('channel')!.id } : {}),
        ...(o.getRole('staff-role') ? { staffRoleId: o.getRole('staff-role')!.id } : {}),
        ...(categories !== null ? { ticketCategories: parseCategories(categories) } : {}),
        ...(o.getInteger('max-open') !== null ? { maxOpenTickets: o.getInteger('max-open')! } : {}),
        ...(o.getInteger('cooldown') !== null ? { openCooldownSeconds: o.getInteger('cooldown')! } : {}),
        ...(o.getNumber('auto-close-hours') !== null ? { autoCloseHours: o.getNumber('auto-close-hours')! } : {}),
        ...(o.getNumber('warning-hours') !== null ? { autoCloseWarningHours: o.getNumber('warning-hours')! } : {}),
      };
    } else if (sub === 'log-channel') {
      patch = { logChannelId: interaction.options.getChannel('channel', true).id };
    } else if (sub === 'reset') {
      patch = Object.fromEntries((RESETTABLE[interaction.options.getString('setting', true)] ?? []).map((f) => [f, null]));
    } else {
      throw new UserError('UNKNOWN_SUBCOMMAND', `/setup ${sub} is not available.`);
    }
    await interaction.deferReply({ flags: MessageFlags.Ephemeral });
    const saved = await guilds.update(guildId, patch, { discordId: interaction.user.id, via: 'discord' });
    await interaction.editReply({ content: '✅ Saved — it applies from now on.', embeds: [settingsEmbed(saved)], allowedMentions: { parse: [] } });
  },
} satisfies Command;
