import { MessageFlags, SlashCommandBuilder } from 'discord.js';
import type { Command } from '../../src/discord/command';
import { actor, currencyAutocomplete } from '../../src/modules/ledger/ledger.views';

export default {
  data: new SlashCommandBuilder()
    .setName('tip-confirm-above')
    .setDescription('Ask me to confirm tips whose total is above this amount')
    .addStringOption((o) => o.setName('amount').setDescription('e.g. 5 (0 = always ask)').setRequired(true))
    .addStringOption((o) => o.setName('currency').setDescription('Default SOL').setAutocomplete(true)),
  async execute(interaction, ctx) {
    const ledger = ctx.services.ledger;
    const me = await actor(interaction, ctx);
    const r = await ledger.setConfirmThreshold(me, interaction.options.getString('amount', true), interaction.options.getString('currency'));
    const text = r.amount === 0n ? `every ${r.currency.code} tip` : `${r.currency.code} tips above ${ledger.format(r.amount, r.currency.code)}`;
    await interaction.reply({ content: `✅ You will be asked to confirm ${text}.`, flags: MessageFlags.Ephemeral });
  },
  autocomplete: currencyAutocomplete,
} satisfies Command;
