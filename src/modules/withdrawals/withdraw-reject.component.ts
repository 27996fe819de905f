import { MessageFlags } from 'discord.js';
import type { ComponentHandler } from '../../discord/component';
import { refOf } from '../ledger/ledger.views';
import { WITHDRAW_REJECT_ACTION, withdrawalIdArg } from './withdrawals.views';

/** An operator rejects a withdrawal waiting for approval: the member is refunded in full. */
export default {
  action: WITHDRAW_REJECT_ACTION,
  requires: 'operator',
  async execute(interaction, arg, ctx) {
    const { withdrawals, ledger } = ctx.services;
    const w = await withdrawals.reject(withdrawalIdArg(arg), refOf(interaction.user), null, interaction.guildId);
    await interaction.reply({
      content: `Rejected withdrawal #${w.id}; ${ledger.format(w.amount + w.fee, w.currency)} went back to <@${w.discord_id ?? w.user_id}>'s balance.`,
      flags: MessageFlags.Ephemeral,
      allowedMentions: { parse: [] },
    });
  },
} satisfies ComponentHandler;
