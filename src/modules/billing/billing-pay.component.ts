import type { ComponentHandler } from '../../discord/component';
import { UserError } from '../../errors';
import { drainMemberRoles } from './billing.role-sync';
import { paidText, PAY_BALANCE_ACTION } from './billing.views';

/**
 * "Pay from balance" on an invoice: one transaction pays it (see BillingService.payFromBalance); a second click finds
 * it paid and only redraws the message. The member's queued role changes are then applied right away through the
 * outbox's one drain (the billing-role-changes job picks up whatever this could not do).
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
    await drainMemberRoles(ctx, invoice.user_id);
  },
} satisfies ComponentHandler;
