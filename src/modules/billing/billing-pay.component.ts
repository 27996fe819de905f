import type { ComponentHandler } from '../../discord/component';
import { UserError } from '../../errors';
import { paidText, PAY_BALANCE_ACTION } from './billing.views';

/**
 * "Pay from balance" on an invoice: one transaction pays it (see BillingService.payFromBalance); a second click finds
 * it paid and only redraws the message. The role grant is then applied right away when Discord is reachable (the
 * role-change outbox keeps it for the drain job otherwise).
 */
export default {
  action: PAY_BALANCE_ACTION,
  async execute(interaction, arg, ctx) {
    if (!interaction.isButton()) return;
    if (!/^\d{1,19}$/.test(arg)) throw new UserError('INVOICE_NOT_FOUND', 'That invoice button is not valid.');
    const billing = ctx.services.billing;
    const { invoice, subscription } = await billing.payFromBalance(BigInt(arg), { discordId: interaction.user.id, username: interaction.user.username, bot: interaction.user.bot });
    const { plan } = await billing.memberInvoice(interaction.user.id, invoice.id);
    await interaction.update({ content: paidText(billing.currencies, invoice, plan, subscription), components: [], allowedMentions: { parse: [] } });
    await billing.drainRoleChanges(10).catch((err: unknown) => ctx.log.warn({ err }, 'immediate role drain failed; the outbox keeps the change'));
  },
} satisfies ComponentHandler;
