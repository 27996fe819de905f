import { ActionRowBuilder, ButtonBuilder, ButtonStyle, EmbedBuilder, time, TimestampStyles } from 'discord.js';
import { customId } from '../../discord/component';
import type { Badge, TierName } from './badges.service';

export const TERMS_ACCEPT_ACTION = 'badge-terms';

const TIER_COLOR: Record<string, number> = { none: 0x808080, bronze: 0xcd7f32, silver: 0xc0c0c0, gold: 0xffd700, platinum: 0x7fdbff };

export function termsMessage(version: string, acceptedAt: Date | null) {
  const lines = [
    `**Trust badge terms — version ${version}**`,
    '• Your badge is a non-transferable token minted to your verified wallet; it cannot be sold or moved.',
    '• It shows your reputation tier and score, and a keyed hash of your Discord id (not the id itself).',
    '• Operators can revoke it (burn) for abuse; unlinking your wallet revokes it too.',
    '• Your score comes from account and wallet age, tips, tickets, member ratings and penalties (see /badge show).',
    acceptedAt ? `\nYou accepted these terms ${time(acceptedAt, TimestampStyles.RelativeTime)}.` : '',
  ];
  const button = new ButtonBuilder()
    .setCustomId(customId(TERMS_ACCEPT_ACTION, version))
    .setStyle(ButtonStyle.Success)
    .setLabel(acceptedAt ? 'Accepted' : 'Accept')
    .setDisabled(acceptedAt !== null);
  return { content: lines.filter(Boolean).join('\n'), components: [new ActionRowBuilder<ButtonBuilder>().addComponents(button)] };
}

export function badgeEmbed(who: string, badge: Badge | undefined, reputation: { score: number; tier: TierName } | null, publicUrl: string | undefined) {
  const embed = new EmbedBuilder().setTitle(`Trust badge — ${who}`).setColor(TIER_COLOR[reputation?.tier ?? 'none'] ?? 0x808080);
  if (reputation) embed.addFields({ name: 'Reputation', value: `${reputation.score} / 1000`, inline: true }, { name: 'Tier', value: reputation.tier, inline: true });
  if (!badge) return embed.setDescription('No badge yet. `/badge terms`, `/wallet link`, then `/badge claim`.');
  embed.addFields({ name: 'Status', value: badge.status, inline: true });
  if (badge.mint) {
    embed.addFields({ name: 'Mint', value: `[\`${badge.mint}\`](https://explorer.solana.com/address/${badge.mint})` });
    if (publicUrl) embed.setThumbnail(`${publicUrl}/badges/${badge.mint}.svg`);
  }
  if (badge.minted_at) embed.addFields({ name: 'Since', value: time(badge.minted_at, TimestampStyles.LongDate), inline: true });
  if (badge.revoke_reason && (badge.status === 'revoked' || badge.status === 'revoking')) embed.addFields({ name: 'Revoked', value: badge.revoke_reason });
  return embed;
}
