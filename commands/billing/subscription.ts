import { MessageFlags, SlashCommandBuilder, type SlashCommandSubcommandBuilder } from 'discord.js';
import type { Command } from '../../src/discord/command';
import { subscriptionLine } from '../../src/modules/billing/billing.views';

const planOption = (s: SlashCommandSubcommandBuilder) =>
  s.addStringOption((o) => o.setName('plan').setDescription('Plan code (when you have several)').setMaxLength(32));

/** Your memberships on this server: status, cancel (keeps the role to the end of the period), resume, auto-renew. */
export default {
  data: new SlashCommandBuilder()
    .setName('subscription')
    .setDescription('Your memberships on this server')
    .addSubcommand((s) => s.setName('status').setDescription('Your memberships and when they end or renew'))
    .addSubcommand((s) => planOption(s.setName('cancel').setDescription('Stop renewing; the role stays until the period ends')))
    .addSubcommand((s) => planOption(s.setName('resume').setDescription('Renew again after a cancel')))
    .addSubcommand((s) =>
      planOption(s.setName('auto-renew').setDescription('Renew from your balance before expiry').addBooleanOption((o) => o.setName('on').setDescription('On or off').setRequired(true))),
    ),
  guildOnly: true,
  async execute(interaction, ctx) {
    const billing = ctx.services.billing;
    const sub = interaction.options.getSubcommand();
    const guildId = interaction.guildId!;
    if (sub === 'status') {
      const subs = await billing.memberSubscriptions(guildId, interaction.user.id);
      const content = subs.length ? subs.slice(0, 15).map(subscriptionLine).join('\n') : 'You have no memberships on this server. See /plans.';
      return interaction.reply({ content, flags: MessageFlags.Ephemeral, allowedMentions: { parse: [] } });
    }
    const on = sub === 'resume' || (sub === 'auto-renew' && interaction.options.getBoolean('on', true));
    const s = await billing.setAutoRenew({ guildId, discordId: interaction.user.id, plan: interaction.options.getString('plan'), on });
    const until = `<t:${Math.floor(s.expires_at.getTime() / 1000)}:D>`;
    const content = on ? `🔁 **${s.plan.name}** renews on ${until} from your balance.` : `🛑 **${s.plan.name}** will not renew; you keep it until ${until}.`;
    return interaction.reply({ content, flags: MessageFlags.Ephemeral });
  },
} satisfies Command;
