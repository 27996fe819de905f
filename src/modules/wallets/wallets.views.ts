import { ActionRowBuilder, ButtonBuilder, ButtonStyle, MessageFlags, time, TimestampStyles, type InteractionReplyOptions } from 'discord.js';
import { customId } from '../../discord/component';
import type { CreatedLink } from './wallets.service';

// What wallets look like in Discord: the /wallet link reply, the unlink prompt and the "linked" notice (sent by
// wallets.discord.ts as a DM and as an edit of the link reply).

/** The unlink buttons' custom-id action (handled by wallet-unlink.component.ts). */
export const UNLINK_ACTION = 'wallet-unlink';

export const code = (s: string) => `\`${s}\``;

/*
 * /wallet link shows the text to sign in the reply. The text names the wallet address, which the bot only knows if
 * the user says it: with the optional `address` option the reply holds the exact text (for CLI / hardware-wallet
 * signing, then /wallet verify); without it, the reply holds the template with ADDRESS_PLACEHOLDER and explains to
 * re-run with `address` — the link page fetches the exact text itself once the wallet is connected.
 */
export function linkReplyView(created: CreatedLink, address: string | undefined): InteractionReplyOptions {
  const signElsewhere = created.exact
    ? `**Signing elsewhere** (CLI, hardware wallet)? Sign exactly this text with ${code(address!)}, then run ` +
      `${code('/wallet verify address:… signature:…')} (base58 or base64 signature):`
    : `**Signing elsewhere** (CLI, hardware wallet)? Run ${code('/wallet link address:<your address>')} to get the exact ` +
      `text to sign (it contains your address), then ${code('/wallet verify')}. The text looks like this:`;
  const content = [
    `**Link your Solana wallet** — open the page, connect your wallet and sign a message. Signing is free (no transaction).`,
    `This link works once and expires ${time(created.expiresAt, TimestampStyles.RelativeTime)}; any older link stops working.`,
    '',
    signElsewhere,
    '```',
    created.message,
    '```',
  ].join('\n');
  const button = new ButtonBuilder().setStyle(ButtonStyle.Link).setLabel('Open wallet link page').setURL(created.url);
  return { content, components: [new ActionRowBuilder<ButtonBuilder>().addComponents(button)], flags: MessageFlags.Ephemeral };
}

export function unlinkPromptView(address: string): InteractionReplyOptions {
  const row = new ActionRowBuilder<ButtonBuilder>().addComponents(
    new ButtonBuilder().setCustomId(customId(UNLINK_ACTION, address)).setStyle(ButtonStyle.Danger).setLabel('Unlink'),
    new ButtonBuilder().setCustomId(customId(UNLINK_ACTION, 'cancel')).setStyle(ButtonStyle.Secondary).setLabel('Cancel'),
  );
  return {
    content: `Unlink ${code(address)} from your account? Features that need a linked wallet stop working until you link one again.`,
    components: [row],
    flags: MessageFlags.Ephemeral,
  };
}

/** The "linked" notice: `short` replaces the spent /wallet link reply, the DM adds what to do next. */
export function walletLinkedText(address: string): { short: string; dm: string } {
  const short = `✅ Wallet ${code(address)} is now linked to your Discord account.`;
  return { short, dm: `${short} Use \`/wallet status\` to see it or \`/wallet unlink\` to remove it.` };
}
