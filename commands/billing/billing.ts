import { MessageFlags, SlashCommandBuilder } from 'discord.js';
import { interactionIdentity, isGuildStaff, isOperator } from '../../src/discord/authorize';
import type { Command } from '../../src/discord/command';
import { UserError } from '../../src/errors';
import { drainMemberRoles } from '../../src/modules/billing/billing.role-sync';
import { revenueText } from '../../src/modules/billing/billing.views';

/**
 * /billing revenue: this server's membership revenue (server staff). /billing refund: operators or the server's
 * owner refund a paid invoice to the member's balance; the subscription ends and the role is removed.
 */
export default {
  data: new SlashCommandBuilder()
    .setName('billing')
    .setDescription("This server's membership billing")
    .addSubcommand((s) => s.setName('revenue').setDescription("Staff: this server's membership revenue"))
    .addSubcommand((s) =>
      s
        .setName('refund')
        .setDescription('Owner or operator: refund a paid invoice to the member’s balance')
        .addStringOption((o) => o.setName('invoice').setDescription('Invoice id').setRequired(true).setMaxLength(20))
        .addStringOption((o) => o.setName('reason').setDescription('Why').setRequired(true).setMaxLength(300)),
    ),
  guildOnly: true,
  async execute(interaction, ctx) {
    const billing = ctx.services.billing;
    const guildId = interaction.guildId!;
    const operator = await isOperator(interaction.user.id, ctx);
    if (interaction.options.getSubcommand() === 'revenue') {
      if (!operator && !(await isGuildStaff(interactionIdentity(interaction), ctx))) throw new UserError('FORBIDDEN', "Revenue is for this server's staff.");
      return interaction.reply({ content: `💰 Membership revenue of this server:\n${revenueText(billing.currencies, await billing.staff.revenue(guildId))}`, flags: MessageFlags.Ephemeral });
    }
    // Refunds move the guild's money: its owner or a bot operator, never a Manage Server member.
    const owner = interaction.guild?.ownerId === interaction.user.id;
    if (!operator && !owner) throw new UserError('FORBIDDEN', "Only this server's owner or a bot operator can refund.");
    const raw = interaction.options.getString('invoice', true).trim().replace(/^#/, '');
    if (!/^\d{1,19}$/.test(raw)) throw new UserError('INVOICE_NOT_FOUND', 'An invoice id is a number.');
    const { invoice } = await billing.staff.refund({ discordId: interaction.user.id, via: 'discord' }, guildId, BigInt(raw), interaction.options.getString('reason', true));
    // Replied first: the role removal may wait on Discord's rate limits, the 3 s reply deadline must not.
    await interaction.reply({ content: `↩️ Invoice ${invoice.number} refunded to <@${(await billing.invoiceOwner(invoice))}>'s balance; the membership ended.`, flags: MessageFlags.Ephemeral, allowedMentions: { parse: [] } });
    await drainMemberRoles(ctx, invoice.user_id);
  },
} satisfies Command;
