import { AttachmentBuilder, time, TimestampStyles, type InteractionEditReplyOptions } from 'discord.js';
import type { Currencies } from '../ledger/currencies';
import type { DepositCreditedEvent, DepositIntent } from './deposits.service';

// What deposits look like in Discord: the /deposit reply and the "credited" DM (sent by deposits.discord.ts).

/** The /deposit answer: the Solana Pay link and its QR code (PNG bytes from DepositsService.qr). */
/** The (deferred, ephemeral) answer to /deposit. */
export function depositRequestView(intent: DepositIntent, amount: string, qrPng: Buffer): InteractionEditReplyOptions {
  return {
    content: [
      `**Deposit #${intent.deposit.id}: ${amount}** — scan the QR code with a Solana Pay wallet, or open this link in your wallet:`,
      `\`${intent.url}\``,
      `It pays the bot's treasury \`${intent.deposit.recipient}\` and is matched to you by its reference key, so pay with this link ` +
        `(a plain transfer without the reference cannot be matched). Your balance is credited with what arrives, usually ` +
        `within a minute; this request expires ${time(intent.deposit.expires_at, TimestampStyles.RelativeTime)}.`,
    ].join('\n'),
    files: [new AttachmentBuilder(qrPng, { name: `deposit-${intent.deposit.id}.png` })],
  };
}

export function depositCreditedText(currencies: Currencies, e: DepositCreditedEvent): string {
  const received = currencies.format(e.received, e.currency.code);
  const note = e.received === e.expected ? '' : ` (you asked for ${currencies.format(e.expected, e.currency.code)}; the amount that arrived is what counts)`;
  if (e.late) {
    return (
      `💰 A payment to deposit #${e.depositId} arrived after the request had ${e.late === 'expired' ? 'expired' : 'closed'}; ` +
      `it was credited anyway: ${received} added to your balance. Transaction \`${e.signature}\`.`
    );
  }
  return `💰 Deposit #${e.depositId} received: ${received} credited to your balance${note}. Transaction \`${e.signature}\`.`;
}
