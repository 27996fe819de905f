import { MessageFlags, SlashCommandBuilder } from 'discord.js';
import type { Command } from '../../src/discord/command';
import { currencyAutocomplete, refOf } from '../../src/modules/ledger/ledger.views';

export default {
  data: new SlashCommandBuilder()
    .setName('admin')
    .setDescription('Operator tools')
    .addSubcommand((s) =>
      s
        .setName('credit')
        .setDescription('Credit a member (sandbox funding / ops); journalled as admin_credit')
        .addUserOption((o) => o.setName('user').setDescription('Who to credit').setRequired(true))
        .addStringOption((o) => o.setName('amount').setDescription('Amount, e.g. 10').setRequired(true))
        .addStringOption((o) => o.setName('currency').setDescription('Default SOL').setAutocomplete(true))
        .addStringOption((o) => o.setName('reason').setDescription('Why (kept in the journal)').setMaxLength(200)),
    )
    .addSubcommand((s) =>
      s
        .setName('block')
        .setDescription('Block a member from moving money or linking wallets (tickets stay open to them)')
        .addUserOption((o) => o.setName('user').setDescription('Who to block').setRequired(true))
        .addStringOption((o) => o.setName('reason').setDescription('Why (kept with the block)').setRequired(true).setMaxLength(200)),
    )
    .addSubcommand((s) =>
      s
        .setName('unblock')
        .setDescription('Lift a block')
        .addUserOption((o) => o.setName('user').setDescription('Who to unblock').setRequired(true)),
    ),
  // Operators only: blocking and crediting are bot-wide.
  requires: 'operator',
  async execute(interaction, ctx) {
    const sub = interaction.options.getSubcommand();
    if (sub === 'block' || sub === 'unblock') {
      const target = interaction.options.getUser('user', true);
      const actor = { discordId: interaction.user.id, via: 'discord' } as const;
      const content =
        sub === 'block'
          ? (await ctx.services.users.block(refOf(target), interaction.options.getString('reason', true), actor, interaction.guildId),
            `⛔ Blocked <@${target.id}>: they cannot move money or link a wallet until unblocked (tickets stay open to them).`)
          : (await ctx.services.users.unblock(refOf(target), actor, interaction.guildId), `✅ Unblocked <@${target.id}>.`);
      await interaction.reply({ content, flags: MessageFlags.Ephemeral, allowedMentions: { parse: [] } });
      return;
    }
    const ledger = ctx.services.ledger;
    const target = interaction.options.getUser('user', true);
    const r = await ledger.adminCredit({
      idempotencyKey: interaction.id,
      user: refOf(target),
      amount: interaction.options.getString('amount', true),
      currency: interaction.options.getString('currency'),
      reason: interaction.options.getString('reason'),
      actor: refOf(interaction.user),
      guildId: interaction.guildId,
    });
    await interaction.reply({
      content: `✅ Credited <@${target.id}> ${ledger.format(r.amount, r.currency.code)} — their balance is now ${ledger.format(r.balance, r.currency.code)}.`,
      flags: MessageFlags.Ephemeral,
    });
  },
  autocomplete: currencyAutocomplete,
} satisfies Command;
