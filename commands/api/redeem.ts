import { MessageFlags, SlashCommandBuilder } from 'discord.js';
import type { Command } from '../../src/discord/command';

export default {
  data: new SlashCommandBuilder()
    .setName('redeem')
    .setDescription('Redeem a voucher for more partner API quota')
    .addStringOption((o) => o.setName('code').setDescription('Voucher code').setRequired(true).setMaxLength(40)),
  async execute(i, ctx) {
    const code = i.options.getString('code', true);
    await ctx.services.quota.redeem({ discordId: i.user.id, username: i.user.username }, code);
    await i.reply({ content: `🎟️ Voucher **${code.trim().toUpperCase()}** redeemed: its allowance is added to your API quota (see \`/quota\`).`, flags: MessageFlags.Ephemeral });
  },
} satisfies Command;
