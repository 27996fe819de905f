import { MessageFlags, SlashCommandBuilder } from 'discord.js';
import type { Command } from '../../src/discord/command';
import { drainMemberRoles } from '../../src/modules/billing/billing.role-sync';
import { invoiceView } from '../../src/modules/billing/billing.views';
import { currencyOption, cycleOf, cycleOption } from './_options';

/** Buy (or renew) a membership: an invoice to pay from balance or on chain; `trial` starts the free trial instead. */
export default {
  data: new SlashCommandBuilder()
    .setName('subscribe')
    .setDescription('Buy or renew a membership on this server')
    .addStringOption((o) => o.setName('plan').setDescription('Plan code (see /plans)').setRequired(true).setMaxLength(32))
    .addStringOption(cycleOption('Billing cycle (default month)'))
    .addStringOption((o) => o.setName('coupon').setDescription('Coupon code').setMaxLength(32))
    .addStringOption(currencyOption('Pay in (default: SOL, or the plan’s only currency)'))
    .addBooleanOption((o) => o.setName('trial').setDescription('Start the free trial instead (once per server)')),
  guildOnly: true,
  async execute(interaction, ctx) {
    const billing = ctx.services.billing;
    const user = { discordId: interaction.user.id, username: interaction.user.username, bot: interaction.user.bot };
    if (interaction.options.getBoolean('trial')) {
      const s = await billing.startTrial({ guildId: interaction.guildId!, user, plan: interaction.options.getString('plan', true) });
      // Replied first: the role grant may wait on Discord's rate limits, the 3 s reply deadline must not.
      await interaction.reply({ content: `🎁 Your free trial runs until <t:${Math.floor(s.expires_at.getTime() / 1000)}:F>.`, flags: MessageFlags.Ephemeral });
      return drainMemberRoles(ctx, s.user_id);
    }
    const checkout = await billing.subscribe({
      interactionId: interaction.id,
      guildId: interaction.guildId!,
      user,
      plan: interaction.options.getString('plan', true),
      cycle: cycleOf(interaction, 'month'),
      currency: interaction.options.getString('currency'),
      coupon: interaction.options.getString('coupon'),
    });
    return interaction.reply({ ...invoiceView(billing.currencies, checkout), flags: MessageFlags.Ephemeral });
  },
} satisfies Command;
