import { time, TimestampStyles } from 'discord.js';
import type { Currencies } from '../ledger/currencies';
import type { InvoicePaymentEvent } from './invoice-watch';

// What on-chain invoice payments look like in Discord: the DM the invoice-watch job's notifier sends.

export function invoicePaymentText(currencies: Currencies, e: InvoicePaymentEvent): string {
  const fmt = (n: bigint) => currencies.format(n, e.currency);
  const tx = `Transaction \`${e.signature}\`.`;
  switch (e.outcome) {
    case 'paid': {
      const until = e.subscriptionExpiresAt ? ` Your membership runs until ${time(e.subscriptionExpiresAt, TimestampStyles.LongDate)}.` : '';
      const excess = e.credited > 0n ? ` You paid ${fmt(e.credited)} more than was due; the excess was credited to your balance.` : '';
      return `✅ Invoice ${e.invoiceNumber} is paid (${fmt(e.received)} received).${excess}${until} ${tx}`;
    }
    case 'partial':
      return `🧾 Invoice ${e.invoiceNumber}: ${fmt(e.received)} received, ${fmt(e.due)} still due. Pay the rest with the same link before the invoice expires. ${tx}`;
    case 'late': {
      const why = e.status === 'PAID' ? 'was already paid' : e.status === 'CANCELED' ? 'had been canceled' : 'had expired';
      return `⚠️ ${fmt(e.received)} arrived for invoice ${e.invoiceNumber}, which ${why}: nothing was activated, and the whole amount was credited to your balance (see /balance). ${tx}`;
    }
  }
}
