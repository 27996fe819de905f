import { MessageFlags, SlashCommandBuilder, type ChatInputCommandInteraction, type SlashCommandSubcommandBuilder } from 'discord.js';
import type { AppContext } from '../../src/app-context';
import type { Command } from '../../src/discord/command';
import type { PriceCreate } from '../../src/modules/billing/billing.catalog';
import { plansEmbed } from '../../src/modules/billing/billing.views';
import { amountOption, currencyOption, cycleOf, cycleOption } from './_options';

const actor = (i: ChatInputCommandInteraction) => ({ discordId: i.user.id, via: 'discord' as const });

function priceOptions(s: SlashCommandSubcommandBuilder, required: boolean) {
  return s
    .addStringOption(amountOption('price', 'Price per cycle, e.g. 0.5', required))
    .addStringOption(cycleOption('Billing cycle of this price (default month)'))
    .addStringOption(currencyOption('Currency of this price (default SOL)'))
    .addIntegerOption((o) => o.setName('discount').setDescription('Discount in % for this cycle').setMinValue(0).setMaxValue(99));
}

function priceFrom(i: ChatInputCommandInteraction): PriceCreate[] {
  const price = i.options.getString('price');
  if (!price) return [];
  const discount = i.options.getInteger('discount');
  return [{ price, cycle: cycleOf(i, 'month'), currency: i.options.getString('currency') ?? 'SOL', ...(discount !== null && { discountPercent: discount }) }];
}

async function planId(i: ChatInputCommandInteraction, ctx: AppContext): Promise<bigint> {
  return (await ctx.services.billing.catalog.plan(i.guildId!, i.options.getString('plan', true))).id;
}

/** Server staff manage this server's memberships (Manage Server or the staff role, in this server only). */
export default {
  data: new SlashCommandBuilder()
    .setName('plan')
    .setDescription("Staff: manage this server's membership plans")
    .addSubcommand((s) =>
      priceOptions(
        s
          .setName('create')
          .setDescription('Create a plan that grants a role')
          .addStringOption((o) => o.setName('code').setDescription('Short code members type, e.g. vip').setRequired(true).setMaxLength(32))
          .addStringOption((o) => o.setName('name').setDescription('Display name').setRequired(true).setMaxLength(100))
          .addRoleOption((o) => o.setName('role').setDescription('Role the plan grants').setRequired(true)),
        true,
      )
        .addStringOption((o) => o.setName('description').setDescription('What members get').setMaxLength(1000))
        .addIntegerOption((o) => o.setName('trial_days').setDescription('Free trial days (once per member)').setMinValue(0).setMaxValue(365))
        .addBooleanOption((o) => o.setName('invite_only').setDescription('Only invited members can buy it')),
    )
    .addSubcommand((s) =>
      priceOptions(
        s
          .setName('edit')
          .setDescription('Change a plan; a price given sets that cycle and currency')
          .addStringOption((o) => o.setName('plan').setDescription('Plan code').setRequired(true).setMaxLength(32)),
        false,
      )
        .addStringOption((o) => o.setName('name').setDescription('Display name').setMaxLength(100))
        .addStringOption((o) => o.setName('description').setDescription('What members get').setMaxLength(1000))
        .addRoleOption((o) => o.setName('role').setDescription('Role the plan grants'))
        .addIntegerOption((o) => o.setName('trial_days').setDescription('Free trial days').setMinValue(0).setMaxValue(365))
        .addBooleanOption((o) => o.setName('invite_only').setDescription('Only invited members can buy it')),
    )
    .addSubcommand((s) =>
      s
        .setName('archive')
        .setDescription('Stop selling a plan (live subscriptions run to their end)')
        .addStringOption((o) => o.setName('plan').setDescription('Plan code').setRequired(true).setMaxLength(32)),
    )
    .addSubcommand((s) => s.setName('list').setDescription("This server's plans, archived ones included")),
  guildOnly: true,
  requires: 'guild-staff',
  async execute(interaction, ctx) {
    const catalog = ctx.services.billing.catalog;
    const guildId = interaction.guildId!;
    const o = interaction.options;
    const sub = o.getSubcommand();
    const fields = {
      ...(o.getString('name') !== null && { name: o.getString('name')! }),
      ...(o.getString('description') !== null && { description: o.getString('description')! }),
      ...(o.getRole('role') && { roleId: o.getRole('role')!.id }),
      ...(o.getInteger('trial_days') !== null && { trialDays: o.getInteger('trial_days')! }),
      ...(o.getBoolean('invite_only') !== null && { inviteOnly: o.getBoolean('invite_only')! }),
    };
    let text: string;
    if (sub === 'create') {
      const plan = await catalog.createPlan(actor(interaction), { guildId, code: o.getString('code', true), name: o.getString('name', true), roleId: o.getRole('role', true).id, ...fields, prices: priceFrom(interaction) });
      text = `✅ Plan **${plan.name}** (\`${plan.code}\`) created; it grants <@&${plan.role_id}>.`;
    } else if (sub === 'edit') {
      const plan = await catalog.editPlan(actor(interaction), guildId, await planId(interaction, ctx), { ...fields, prices: priceFrom(interaction) });
      text = `✅ Plan **${plan.name}** (\`${plan.code}\`) updated.`;
    } else if (sub === 'archive') {
      const plan = await catalog.archivePlan(actor(interaction), guildId, await planId(interaction, ctx));
      text = `🗄️ Plan **${plan.name}** archived: no longer sold; live subscriptions run to their end.`;
    } else {
      const plans = await catalog.plans({ guildId, includeArchived: true });
      return interaction.reply({ embeds: [plansEmbed(ctx.services.billing.currencies, plans, 'Plans — this server')], flags: MessageFlags.Ephemeral, allowedMentions: { parse: [] } });
    }
    return interaction.reply({ content: text, flags: MessageFlags.Ephemeral, allowedMentions: { parse: [] } });
  },
} satisfies Command;
