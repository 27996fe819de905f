import { ActionRowBuilder, AttachmentBuilder, ButtonBuilder, ButtonStyle, EmbedBuilder, time, TimestampStyles, type InteractionReplyOptions } from 'discord.js';
import { customId } from '../../discord/component';
import type { Currencies } from '../ledger/currencies';
import type { PlanWithPrices } from './billing.catalog';
import type { Checkout, Invoice, InvoicePayment, Plan, Subscription } from './billing.service';
import { cycleLabel } from './billing.service';

// What Discord shows for billing: the invoice with its two ways to pay, plans, subscriptions, receipts.

export const PAY_BALANCE_ACTION = 'billing-pay';

const STATUS_ICON: Record<Invoice['status'], string> = { CREATED: '🧾', PENDING: '⏳', PAID: '✅', EXPIRED: '⌛', CANCELED: '✖️', REFUNDED: '↩️' };

export function priceLines(currencies: Currencies, plan: PlanWithPrices): string {
  if (plan.prices.length === 0) return '_no prices yet_';
  return plan.prices
    .map((p) => {
      const net = p.price - (p.price * BigInt(p.discount_percent)) / 100n;
      const off = p.discount_percent ? ` (−${p.discount_percent} %, was ${currencies.format(p.price, p.currency)})` : '';
      return `• ${cycleLabel(p.cycle)}: **${currencies.format(net, p.currency)}**${off}`;
    })
    .join('\n');
}

export function plansEmbed(currencies: Currencies, plans: readonly PlanWithPrices[], title = 'Memberships'): EmbedBuilder {
  const embed = new EmbedBuilder().setTitle(title).setColor(0x5865f2);
  if (plans.length === 0) return embed.setDescription('This server sells no memberships yet.');
  for (const p of plans.slice(0, 25)) {
    const tags = [p.invite_only ? 'invite-only' : null, p.trial_days ? `${p.trial_days}-day free trial` : null, p.status === 'archived' ? 'archived' : null].filter(Boolean);
    const features = p.features.length ? `\n${p.features.map((f) => `✓ ${f}`).join('\n')}` : '';
    embed.addFields({
      name: `${p.name} — \`${p.code}\`${tags.length ? ` (${tags.join(', ')})` : ''}`,
      value: `${p.description ? `${p.description}\n` : ''}Role: <@&${p.role_id}>\n${priceLines(currencies, p)}${features}`.slice(0, 1024),
    });
  }
  return embed;
}

/** The /subscribe reply: the invoice, "Pay from balance", the checkout page and the Solana Pay request. */
export function invoiceView(currencies: Currencies, c: Checkout): InteractionReplyOptions & { content: string } {
  const i = c.invoice;
  const due = i.amount - i.paid_amount;
  const lines = [
    `${STATUS_ICON[i.status]} **Invoice ${i.number}** — ${c.plan.name}, one ${cycleLabel(i.cycle)}`,
    i.discount > 0n ? `Price ${currencies.format(i.subtotal, i.currency)}, discount ${currencies.format(i.discount, i.currency)}` : null,
    `Amount: **${currencies.format(i.amount, i.currency)}**${i.paid_amount > 0n && due > 0n ? ` (still due: ${currencies.format(due, i.currency)})` : ''}`,
    i.status === 'CREATED' || i.status === 'PENDING' ? `Price held until ${time(i.rate_locked_until, TimestampStyles.ShortTime)} (${time(i.rate_locked_until, TimestampStyles.RelativeTime)}).` : `Status: ${i.status.toLowerCase()}`,
    c.solanaPayUrl ? `Pay on chain with any Solana Pay wallet:\n\`${c.solanaPayUrl}\`` : null,
  ].filter((l): l is string => l !== null);
  const buttons = new ActionRowBuilder<ButtonBuilder>();
  if (i.status === 'CREATED' || i.status === 'PENDING') {
    buttons.addComponents(new ButtonBuilder().setCustomId(customId(PAY_BALANCE_ACTION, i.id.toString())).setLabel('Pay from balance').setStyle(ButtonStyle.Primary));
    if (c.checkoutUrl) buttons.addComponents(new ButtonBuilder().setURL(c.checkoutUrl).setLabel('Pay with wallet').setStyle(ButtonStyle.Link));
  }
  return { content: lines.join('\n'), components: buttons.components.length ? [buttons] : [], allowedMentions: { parse: [] } };
}

export function paidText(currencies: Currencies, invoice: Invoice, plan: Plan, subscription: Subscription | undefined): string {
  const until = subscription ? ` until ${time(subscription.expires_at, TimestampStyles.LongDate)}` : '';
  return `✅ Invoice ${invoice.number} paid (${currencies.format(invoice.amount, invoice.currency)}). You have **${plan.name}**${until}; your role <@&${plan.role_id}> is on its way.`;
}

export function subscriptionLine(s: Subscription & { plan: Plan }): string {
  const renew = s.status === 'ACTIVE' ? (s.auto_renew ? 'renews' : 'ends') : s.status === 'SUSPENDED' ? 'suspended; period ends' : s.status.toLowerCase();
  const when = s.status === 'ACTIVE' || s.status === 'SUSPENDED' ? ` ${time(s.expires_at, TimestampStyles.LongDate)}` : s.inactive_since ? ` ${time(s.inactive_since, TimestampStyles.ShortDate)}` : '';
  return `• **${s.plan.name}** (\`${s.plan.code}\`)${s.trial ? ' — trial' : ''}: ${renew}${when} · <@&${s.plan.role_id}>`;
}

export function invoiceLine(currencies: Currencies, i: Invoice): string {
  return `${STATUS_ICON[i.status]} \`#${i.id}\` ${i.number} · ${currencies.format(i.amount, i.currency)} · ${i.status.toLowerCase()} · ${time(i.created_at, TimestampStyles.ShortDate)}`;
}

/** /invoice show: a Markdown receipt attachment. */
export function receiptAttachment(currencies: Currencies, invoice: Invoice, plan: Plan, payments: readonly InvoicePayment[]): AttachmentBuilder {
  const f = (n: bigint) => currencies.format(n, invoice.currency);
  const rows = [
    `# ${invoice.status === 'PAID' ? 'Receipt' : 'Invoice'} ${invoice.number}`,
    '',
    '| | |',
    '|---|---|',
    `| Plan | ${plan.name} (\`${plan.code}\`) |`,
    `| Period | one ${cycleLabel(invoice.cycle)} |`,
    `| Price | ${f(invoice.subtotal)} |`,
    `| Discount | ${f(invoice.discount)} |`,
    `| **Total** | **${f(invoice.amount)}** |`,
    `| Paid | ${f(invoice.paid_amount)} |`,
    `| Status | ${invoice.status} |`,
    `| Issued | ${invoice.created_at.toISOString()} |`,
    ...(invoice.paid_at ? [`| Paid at | ${invoice.paid_at.toISOString()} |`] : []),
    ...(invoice.refunded_at ? [`| Refunded at | ${invoice.refunded_at.toISOString()} |`] : []),
    `| Server | ${invoice.guild_id} |`,
    `| Solana Pay reference | \`${invoice.reference}\` |`,
  ];
  if (payments.length) {
    rows.push('', '## Payments', '', '| When | Source | Amount | Applied | To balance | Signature |', '|---|---|---|---|---|---|');
    for (const p of payments) {
      rows.push(`| ${p.created_at.toISOString()} | ${p.source} | ${f(p.amount)} | ${f(p.applied_amount)} | ${f(p.credited_amount)} | ${p.signature ? `\`${p.signature}\`` : '—'} |`);
    }
  }
  return new AttachmentBuilder(Buffer.from(`${rows.join('\n')}\n`, 'utf8'), { name: `${invoice.number}.md` });
}

export function revenueText(currencies: Currencies, revenue: ReadonlyMap<string, bigint>): string {
  if (revenue.size === 0) return 'No membership revenue yet.';
  return [...revenue].map(([c, a]) => `• ${currencies.format(a, c)}`).join('\n');
}
