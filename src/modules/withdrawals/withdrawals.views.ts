import { ActionRowBuilder, ButtonBuilder, ButtonStyle } from 'discord.js';
import { customId } from '../../discord/component';
import { UserError } from '../../errors';
import type { Currencies } from '../ledger/currencies';
import type { Withdrawal } from './withdrawals.service';

// Discord-facing rendering for withdrawals (kept out of the service).

export const WITHDRAW_APPROVE_ACTION = 'withdraw-approve';
export const WITHDRAW_REJECT_ACTION = 'withdraw-reject';

const code = (s: string) => `\`${s}\``;

export function withdrawalText(currencies: Currencies, w: Withdrawal): string {
  const what = `${currencies.format(w.amount, w.currency)} to ${code(w.destination)}`;
  const fee = w.fee > 0n ? ` (fee ${currencies.format(w.fee, w.currency)})` : '';
  switch (w.status) {
    case 'requested':
      return `🕒 Withdrawal #${w.id} of ${what}${fee} is waiting for a moderator's approval. The amount is reserved from your balance; a rejection refunds it.`;
    case 'approved':
    case 'sent':
      return `⏳ Withdrawal #${w.id} of ${what}${fee} is on its way${w.signature ? ` (transaction ${code(w.signature)})` : ''}. You'll get a DM when it confirms.`;
    case 'confirmed':
      return `✅ Withdrawal #${w.id} sent: ${what}${fee}. Transaction ${code(w.signature ?? '?')}.`;
    case 'failed':
    case 'refunded':
      return `↩️ Withdrawal #${w.id} of ${what} was not paid and has been refunded to your balance${w.failure_reason ? ` (${w.failure_reason})` : ''}.`;
  }
}

export function reviewLine(currencies: Currencies, w: Withdrawal): string {
  return `#${w.id} · <@${w.discord_id}> · **${currencies.format(w.amount, w.currency)}** → ${code(w.destination)} · requested <t:${Math.floor(w.created_at.getTime() / 1000)}:R>`;
}

export function reviewButtons(w: Withdrawal): ActionRowBuilder<ButtonBuilder> {
  return new ActionRowBuilder<ButtonBuilder>().addComponents(
    new ButtonBuilder().setCustomId(customId(WITHDRAW_APPROVE_ACTION, String(w.id))).setStyle(ButtonStyle.Success).setLabel(`Approve #${w.id}`),
    new ButtonBuilder().setCustomId(customId(WITHDRAW_REJECT_ACTION, String(w.id))).setStyle(ButtonStyle.Danger).setLabel(`Reject #${w.id}`),
  );
}

export function withdrawalIdArg(arg: string): bigint {
  if (!/^\d{1,18}$/.test(arg)) throw new UserError('BAD_BUTTON', 'This button is no longer valid.');
  return BigInt(arg);
}
