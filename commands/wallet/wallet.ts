import { MessageFlags, SlashCommandBuilder, time, TimestampStyles, type ChatInputCommandInteraction } from 'discord.js';
import type { AppContext } from '../../src/app-context';
import type { Command } from '../../src/discord/command';
import { UserError } from '../../src/errors';
import { code, linkReplyView, unlinkPromptView } from '../../src/modules/wallets/wallets.views';

async function link(interaction: ChatInputCommandInteraction, ctx: AppContext) {
  const publicUrl = ctx.config.PUBLIC_URL;
  // startApp always sets it; a missing value is a wiring bug, not the user's problem.
  if (!publicUrl) throw new Error('PUBLIC_URL is not configured');
  const address = interaction.options.getString('address') ?? undefined;
  const created = await ctx.services.wallets.createLink({
    discordId: interaction.user.id,
    username: interaction.user.username,
    publicUrl,
    ...(address ? { address } : {}),
    interaction: { appId: interaction.applicationId, token: interaction.token },
  });
  await interaction.reply(linkReplyView(created, address));
}

async function verify(interaction: ChatInputCommandInteraction, ctx: AppContext) {
  const linked = await ctx.services.wallets.verify({
    discordId: interaction.user.id,
    address: interaction.options.getString('address', true),
    signature: interaction.options.getString('signature', true),
    ...(interaction.options.getString('nonce') ? { nonce: interaction.options.getString('nonce', true) } : {}),
  });
  const replaced = linked.replaced ? ` It replaces ${code(linked.replaced)}.` : '';
  await interaction.reply({ content: `✅ Wallet ${code(linked.address)} is now linked to your account.${replaced}`, flags: MessageFlags.Ephemeral });
}

async function status(interaction: ChatInputCommandInteraction, ctx: AppContext) {
  const s = await ctx.services.wallets.status(interaction.user.id);
  const lines = s.wallet
    ? [`Linked wallet: ${code(s.wallet.address)} (verified ${time(s.wallet.verified_at, TimestampStyles.RelativeTime)}).`]
    : ['No wallet linked. Use `/wallet link` to link one.'];
  if (s.pendingLink) lines.push(`An unused link is open until ${time(s.pendingLink.expiresAt, TimestampStyles.ShortTime)}.`);
  await interaction.reply({ content: lines.join('\n'), flags: MessageFlags.Ephemeral });
}

async function unlink(interaction: ChatInputCommandInteraction, ctx: AppContext) {
  const { wallet } = await ctx.services.wallets.status(interaction.user.id);
  if (!wallet) throw new UserError('NO_WALLET', 'You have no linked wallet.');
  await interaction.reply(unlinkPromptView(wallet.address));
}

export default {
  data: new SlashCommandBuilder()
    .setName('wallet')
    .setDescription('Link your Solana wallet by signing a message')
    .addSubcommand((s) =>
      s
        .setName('link')
        .setDescription('Get a one-time page to connect and verify your Solana wallet')
        .addStringOption((o) =>
          o.setName('address').setDescription('Your wallet address: shows the exact text to sign outside the page (CLI)').setMaxLength(64),
        ),
    )
    .addSubcommand((s) =>
      s
        .setName('verify')
        .setDescription('Verify a signature of the /wallet link message made elsewhere')
        .addStringOption((o) => o.setName('address').setDescription('Your wallet address (base58)').setRequired(true).setMaxLength(64))
        .addStringOption((o) => o.setName('signature').setDescription('Signature, base58 or base64').setRequired(true).setMaxLength(256))
        .addStringOption((o) => o.setName('nonce').setDescription('Nonce from the message (default: your latest link)').setMaxLength(64)),
    )
    .addSubcommand((s) => s.setName('status').setDescription('Show your linked wallet'))
    .addSubcommand((s) => s.setName('unlink').setDescription('Unlink your wallet')),
  async execute(interaction, ctx) {
    switch (interaction.options.getSubcommand()) {
      case 'link':
        return link(interaction, ctx);
      case 'verify':
        return verify(interaction, ctx);
      case 'status':
        return status(interaction, ctx);
      case 'unlink':
        return unlink(interaction, ctx);
      default:
        throw new UserError('UNKNOWN_SUBCOMMAND', 'Unknown /wallet subcommand.');
    }
  },
} satisfies Command;
