import { MessageFlags, SlashCommandBuilder } from 'discord.js';
import type { Command } from '../../src/discord/command';
import { reviewButtons, reviewLine } from '../../src/modules/withdrawals/withdrawals.views';

/** Operators (bot-wide money): withdrawals above the approval threshold, each with Approve / Reject buttons. */
export default {
  data: new SlashCommandBuilder()
    .setName('withdrawals')
    .setDescription('Review withdrawals waiting for approval (operators)')
    .addSubcommand((s) => s.setName('review').setDescription('List withdrawals waiting for approval')),
  requires: 'operator',
  async execute(interaction, ctx) {
    const { withdrawals, ledger } = ctx.services;
    // Five action rows is Discord's limit per message.
    const waiting = await withdrawals.awaitingReview(5);
    if (waiting.length === 0) {
      await interaction.reply({ content: 'No withdrawals are waiting for approval.', flags: MessageFlags.Ephemeral });
      return;
    }
    await interaction.reply({
      content: ['**Withdrawals waiting for approval** (oldest first):', ...waiting.map((w) => reviewLine(ledger.currencies, w))].join('\n'),
      components: waiting.map(reviewButtons),
      flags: MessageFlags.Ephemeral,
      allowedMentions: { parse: [] },
    });
  },
} satisfies Command;
