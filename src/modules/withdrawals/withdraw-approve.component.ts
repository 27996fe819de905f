import { MessageFlags } from 'discord.js';
import type { ComponentHandler } from '../../discord/component';
import { refOf } from '../ledger/ledger.views';
import { WITHDRAW_APPROVE_ACTION, withdrawalIdArg, withdrawalText } from './withdrawals.views';

/** An operator approves a withdrawal above the approval threshold; the payout starts right away. */
export default {
  action: WITHDRAW_APPROVE_ACTION,
  requires: 'operator',
  async execute(interaction, arg, ctx) {
    const { withdrawals, ledger } = ctx.services;
    const id = withdrawalIdArg(arg);
    await withdrawals.approve(id, refOf(interaction.user), interaction.guildId);
    await interaction.deferReply({ flags: MessageFlags.Ephemeral });
    // Approved is committed; if the chain is unreachable now, the withdrawal-processor job pays it later.
    const after = await withdrawals.advance(id).catch((err: unknown) => {
      ctx.log.warn({ err, withdrawalId: id }, 'payout after approval deferred to the processor');
      return withdrawals.get(id);
    });
    await interaction.editReply(`Approved by you. ${after ? withdrawalText(ledger.currencies, after) : ''}`);
  },
} satisfies ComponentHandler;
