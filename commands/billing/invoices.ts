import { MessageFlags, SlashCommandBuilder } from 'discord.js';
import type { Command } from '../../src/discord/command';
import { invoiceLine } from '../../src/modules/billing/billing.views';

/** Your membership invoices (this server's in a server, all of them in DMs). */
export default {
  data: new SlashCommandBuilder().setName('invoices').setDescription('Your membership invoices'),
  async execute(interaction, ctx) {
    const billing = ctx.services.billing;
    const invoices = await billing.memberInvoices(interaction.user.id, { limit: 15, ...(interaction.guildId && { guildId: interaction.guildId }) });
    const content = invoices.length ? `${invoices.map((i) => invoiceLine(billing.currencies, i)).join('\n')}\nA receipt: \`/invoice show id\`.` : 'You have no invoices.';
    return interaction.reply({ content, flags: MessageFlags.Ephemeral });
  },
} satisfies Command;
