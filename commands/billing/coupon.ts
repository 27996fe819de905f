import { MessageFlags, SlashCommandBuilder } from 'discord.js';
import type { Command } from '../../src/discord/command';
import { UserError } from '../../src/errors';
import { amountOption, currencyOption, cycleOf, cycleOption } from './_options';

/** Staff: this server's coupons (percent or fixed off, per cycle, optionally one plan, limited uses, expiry). */
export default {
  data: new SlashCommandBuilder()
    .setName('coupon')
    .setDescription("Staff: manage this server's membership coupons")
    .addSubcommand((s) =>
      s
        .setName('create')
        .setDescription('Create a coupon')
        .addStringOption((o) => o.setName('code').setDescription('What members type').setRequired(true).setMaxLength(32))
        .addIntegerOption((o) => o.setName('percent').setDescription('Percent off').setMinValue(1).setMaxValue(100))
        .addStringOption(amountOption('amount', 'Fixed amount off, e.g. 0.1'))
        .addStringOption(currencyOption('Currency of the fixed amount (default SOL)'))
        .addStringOption(cycleOption('Only for this cycle (default: every cycle)'))
        .addStringOption((o) => o.setName('plan').setDescription('Only for this plan').setMaxLength(32))
        .addIntegerOption((o) => o.setName('max_uses').setDescription('Total redemptions allowed').setMinValue(1))
        .addIntegerOption((o) => o.setName('days').setDescription('Expires after this many days').setMinValue(1).setMaxValue(3650)),
    )
    .addSubcommand((s) => s.setName('list').setDescription("This server's coupons"))
    .addSubcommand((s) =>
      s
        .setName('disable')
        .setDescription('Stop a coupon being used')
        .addStringOption((o) => o.setName('code').setDescription('Coupon code').setRequired(true).setMaxLength(32)),
    ),
  guildOnly: true,
  requires: 'guild-staff',
  async execute(interaction, ctx) {
    const catalog = ctx.services.billing.catalog;
    const guildId = interaction.guildId!;
    const o = interaction.options;
    const actor = { discordId: interaction.user.id, via: 'discord' as const };
    const sub = o.getSubcommand();
    if (sub === 'list') {
      const coupons = await catalog.coupons({ guildId, limit: 25 });
      const content = coupons.length
        ? coupons.map((c) => `• \`${c.code}\` ${c.active ? '' : '(disabled) '}${c.redemptions}/${c.max_redemptions ?? '∞'} used${c.expires_at ? `, expires <t:${Math.floor(c.expires_at.getTime() / 1000)}:d>` : ''}`).join('\n')
        : 'No coupons yet.';
      return interaction.reply({ content, flags: MessageFlags.Ephemeral });
    }
    if (sub === 'disable') {
      const code = o.getString('code', true).trim().toLowerCase();
      const coupon = (await catalog.coupons({ guildId, limit: 200 })).find((c) => c.code.toLowerCase() === code);
      if (!coupon) throw new UserError('COUPON_UNKNOWN', 'There is no such coupon on this server.');
      await catalog.disableCoupon(actor, guildId, coupon.id);
      return interaction.reply({ content: `🚫 Coupon \`${coupon.code}\` disabled.`, flags: MessageFlags.Ephemeral });
    }
    const days = o.getInteger('days');
    const coupon = await catalog.createCoupon(actor, {
      guildId,
      code: o.getString('code', true),
      plan: o.getString('plan'),
      maxRedemptions: o.getInteger('max_uses'),
      expiresAt: days ? new Date(Date.now() + days * 86_400_000) : null,
      discounts: [{ cycle: cycleOf(interaction, null), percentOff: o.getInteger('percent'), amountOff: o.getString('amount'), currency: o.getString('currency') ?? 'SOL' }],
    });
    return interaction.reply({ content: `🏷️ Coupon \`${coupon.code}\` created.`, flags: MessageFlags.Ephemeral });
  },
} satisfies Command;
