import { MessageFlags, SlashCommandBuilder } from 'discord.js';
import type { Command } from '../../src/discord/command';
import { UserError } from '../../src/errors';
import { invoiceLine, receiptAttachment } from '../../src/modules/billing/billing.views';

/** One of your invoices, with its receipt as a Markdown attachment. */
export default {
  data: new SlashCommandBuilder()
    .setName('invoice')
    .setDescription('One of your invoices')
    .addSubcommand((s) =>
      s
        .setName('show')
        .setDescription('Show an invoice and its receipt')
        .addStringOption((o) => o.setName('id').setDescription('Invoice id (the # in /invoices)').setRequired(true).setMaxLength(20)),
    ),
  async execute(interaction, ctx) {
    const raw = interaction.options.getString('id', true).trim().replace(/^#/, '');
    if (!/^\d{1,19}$/.test(raw)) throw new UserError('INVOICE_NOT_FOUND', 'An invoice id is the number after # in /invoices.');
    const billing = ctx.services.billing;
    const { invoice, plan, payments } = await billing.memberInvoice(interaction.user.id, BigInt(raw));
    return interaction.reply({
      content: invoiceLine(billing.currencies, invoice),
      files: [receiptAttachment(billing.currencies, invoice, plan, payments)],
      flags: MessageFlags.Ephemeral,
    });
  },
} satisfies Command;
