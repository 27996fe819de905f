import { MessageFlags, SlashCommandBuilder, time, TimestampStyles } from 'discord.js';
import type { Command } from '../../src/discord/command';
import { quotaView } from '../../src/modules/quota/quota.views';

export default {
  data: new SlashCommandBuilder().setName('quota').setDescription('Your partner API usage against your allowances this period'),
  async execute(i, ctx) {
    const s = await ctx.services.quota.status({ discordId: i.user.id });
    if (!s) {
      await i.reply({ content: 'You have no API usage yet. `/api client create` makes a client.', flags: MessageFlags.Ephemeral });
      return;
    }
    await i.reply({ content: quotaView(s, (d) => time(d, TimestampStyles.LongDate)), flags: MessageFlags.Ephemeral });
  },
} satisfies Command;
