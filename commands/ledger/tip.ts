import { MessageFlags, SlashCommandBuilder } from 'discord.js';
import type { Command } from '../../src/discord/command';
import { actor, confirmView, currencyAutocomplete, mentionedUsers, refOf, tipText } from '../../src/modules/ledger/ledger.views';

export default {
  data: new SlashCommandBuilder()
    .setName('tip')
    .setDescription('Send part of your balance to other members')
    .addUserOption((o) => o.setName('user').setDescription('Who gets the tip').setRequired(true))
    .addStringOption((o) => o.setName('amount').setDescription('Total amount, e.g. 0.5 (split equally between recipients)').setRequired(true))
    .addStringOption((o) => o.setName('currency').setDescription('Default SOL').setAutocomplete(true))
    .addStringOption((o) => o.setName('note').setDescription('A message with the tip').setMaxLength(200))
    .addStringOption((o) => o.setName('users').setDescription('More recipients: mention them, e.g. @alice @bob')),
  async execute(interaction, ctx) {
    const ledger = ctx.services.ledger;
    // The sender's activity (for /rain) is recorded by requestTip in the round trip it makes anyway, not separately
    // first: /tip answers within Discord's deadline at hundreds per second (issue 18).
    const me = refOf(interaction.user);
    const first = refOf(interaction.options.getUser('user', true));
    const more = await mentionedUsers(interaction, interaction.options.getString('users'), [first.discordId]).catch(async (err: unknown) => {
      await actor(interaction, ctx);
      throw err;
    });
    const receivers = [first, ...more];
    const note = interaction.options.getString('note');
    const outcome = await ledger.requestTip({
      recordActivity: true,
      interactionId: interaction.id,
      sender: me,
      receivers,
      amount: interaction.options.getString('amount', true),
      currency: interaction.options.getString('currency'),
      note,
      guildId: interaction.guildId,
    });
    if (outcome.status === 'done') {
      await interaction.reply({ content: tipText(ledger, me, outcome.result, note), allowedMentions: { users: outcome.result.receivers.map((r) => r.discordId) } });
      return;
    }
    const total = ledger.format(outcome.total, outcome.currency.code);
    const who = outcome.receivers.map((r) => `<@${r.discordId}>`).join(', ');
    // A repeat: the earlier one may have gone through unanswered (the member cannot tell), so say when it was applied.
    const at = outcome.repeatOf ? Math.floor(outcome.repeatOf.getTime() / 1000) : undefined;
    const content =
      at === undefined
        ? `⚠️ You are about to send **${total}** to ${who}. Confirm within 5 minutes.`
        : `⚠️ You already sent the same tip (**${total}** to ${who}) at <t:${at}:T> (<t:${at}:R>). Send it again? Confirm within 5 minutes, or Cancel to send nothing.`;
    await interaction.reply({
      content,
      components: [confirmView(outcome.confirmationId)],
      flags: MessageFlags.Ephemeral,
    });
  },
  autocomplete: currencyAutocomplete,
} satisfies Command;
