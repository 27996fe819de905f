import { EmbedBuilder, SlashCommandBuilder } from 'discord.js';
import type { Command } from '../../src/discord/command';
import type { LeaderboardPeriod } from '../../src/modules/ledger/ledger.service';
import { actor, currencyAutocomplete } from '../../src/modules/ledger/ledger.views';

const PERIOD_LABEL: Record<LeaderboardPeriod, string> = { day: 'last 24 hours', week: 'last 7 days', month: 'last 30 days', all: 'all time' };

export default {
  data: new SlashCommandBuilder()
    .setName('leaderboard')
    .setDescription('Most generous tippers in this server (everywhere, in DMs)')
    .addStringOption((o) => o.setName('currency').setDescription('Default SOL').setAutocomplete(true))
    .addStringOption((o) =>
      o
        .setName('period')
        .setDescription('Default: week')
        .addChoices({ name: 'day', value: 'day' }, { name: 'week', value: 'week' }, { name: 'month', value: 'month' }, { name: 'all time', value: 'all' }),
    ),
  async execute(interaction, ctx) {
    const ledger = ctx.services.ledger;
    await actor(interaction, ctx);
    const period = (interaction.options.getString('period') ?? 'week') as LeaderboardPeriod;
    const board = await ledger.leaderboard(interaction.options.getString('currency'), period, interaction.guildId);
    const medals = ['🥇', '🥈', '🥉'];
    const lines = board.rows.map(
      (r, i) => `${medals[i] ?? `${i + 1}.`} <@${r.discordId}> — **${ledger.format(r.total, board.currency.code)}** in ${r.tips} tip${r.tips === 1 ? '' : 's'}`,
    );
    const embed = new EmbedBuilder()
      .setTitle(`Top tippers${board.guildId ? ' in this server' : ''} · ${board.currency.code} · ${PERIOD_LABEL[period]}`)
      .setColor(0xffd700)
      .setDescription(lines.length ? lines.join('\n') : 'No tips in this period yet.');
    await interaction.reply({ embeds: [embed], allowedMentions: { parse: [] } });
  },
  autocomplete: currencyAutocomplete,
} satisfies Command;
