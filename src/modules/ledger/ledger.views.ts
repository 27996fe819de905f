import {
  ActionRowBuilder,
  ButtonBuilder,
  ButtonStyle,
  EmbedBuilder,
  type AutocompleteInteraction,
  type Interaction,
  type User,
} from 'discord.js';
import type { AppContext } from '../../app-context';
import { customId } from '../../discord/component';
import { UserError } from '../../errors';
import type { HistoryCursor } from './ledger.repository';
import { MAX_RECIPIENTS, type Airdrop, type DiscordUserRef, type HistoryEntry, type HistoryPage, type LedgerService, type TipResult } from './ledger.service';

// Discord-facing rendering shared by the ledger commands and their buttons (kept out of the service).

export const HISTORY_ACTION = 'ledger-history';
export const AIRDROP_CLAIM_ACTION = 'airdrop-claim';
export const TIP_CONFIRM_ACTION = 'tip-confirm';
export const TIP_CANCEL_ACTION = 'tip-cancel';

export function refOf(user: User): DiscordUserRef {
  return { discordId: user.id, username: user.username, bot: user.bot };
}

/** The acting user; in a guild this also counts as activity for /rain. */
export async function actor(interaction: Interaction, ctx: AppContext): Promise<DiscordUserRef> {
  const me = refOf(interaction.user);
  if (interaction.guildId) await ctx.services.ledger.touchActivity(interaction.guildId, me);
  return me;
}

export async function currencyAutocomplete(interaction: AutocompleteInteraction, ctx: AppContext): Promise<void> {
  const typed = interaction.options.getFocused().trim().toUpperCase();
  const choices = ctx.services.ledger.currencies.all
    .filter((c) => c.code.startsWith(typed))
    .map((c) => ({ name: c.mint ? `${c.code} (${c.mint.slice(0, 4)}…${c.mint.slice(-4)})` : c.code, value: c.code }));
  await interaction.respond(choices.slice(0, 25));
}

export function tipText(ledger: LedgerService, sender: DiscordUserRef, r: TipResult, note: string | null | undefined, kind: 'tip' | 'rain' = 'tip'): string {
  const who = r.receivers.map((u) => `<@${u.discordId}>`).join(', ');
  const each = ledger.format(r.each, r.currency.code);
  const verb = kind === 'rain' ? '🌧️ made it rain on' : '💸 tipped';
  const split = r.receivers.length > 1 ? ` ${each} each (${ledger.format(r.total, r.currency.code)} total)` : ` ${each}`;
  return `<@${sender.discordId}> ${verb} ${who}${split}${note?.trim() ? ` — “${note.trim().slice(0, 200)}”` : ''}`;
}

const TYPE_LABEL: Record<HistoryEntry['type'], string> = {
  tip: 'Tip',
  rain: 'Rain',
  admin_credit: 'Credit',
  airdrop_escrow: 'Airdrop escrow',
  airdrop_claim: 'Airdrop claim',
  airdrop_refund: 'Airdrop refund',
  deposit: 'Deposit',
  withdrawal: 'Withdrawal',
  withdrawal_refund: 'Withdrawal refund',
  subscription_payment: 'Membership payment',
  subscription_refund: 'Membership refund',
  invoice_deposit: 'Invoice payment (on chain)',
};

/**
 * Prev/Next carry a keyset cursor after the page number (`<page>:b<id>` = older than id, `<page>:a<id>` = newer), so
 * no page is found by skipping rows. A disabled button keeps the bare page number.
 */
export function historyView(ledger: LedgerService, h: HistoryPage) {
  const lines = h.entries.map((e) => {
    const sign = e.direction === 'in' ? '+' : '−';
    const other = e.counterparty ? (e.direction === 'in' ? ` from <@${e.counterparty}>` : ` to <@${e.counterparty}>`) : '';
    return `\`#${e.id}\` <t:${Math.floor(e.createdAt.getTime() / 1000)}:R> ${TYPE_LABEL[e.type]} **${sign}${ledger.format(e.amount, e.currency)}**${other}`;
  });
  const plus = h.capped ? '+' : '';
  const embed = new EmbedBuilder()
    .setTitle('Your ledger history')
    .setColor(0x14f195)
    .setDescription(lines.length ? lines.join('\n') : 'Nothing yet — receive a tip or ask an admin for sandbox funds.')
    .setFooter({ text: `Page ${h.page}/${h.pages}${plus} · ${h.total}${plus} entries` });
  const first = h.entries[0];
  const last = h.entries.at(-1);
  const hasPrev = h.page > 1 && first !== undefined;
  const hasNext = (h.more ?? h.page < h.pages) && last !== undefined;
  const row = new ActionRowBuilder<ButtonBuilder>().addComponents(
    new ButtonBuilder()
      .setCustomId(customId(HISTORY_ACTION, hasPrev ? `${h.page - 1}:a${first.id}` : String(h.page - 1)))
      .setLabel('◀ Prev')
      .setStyle(ButtonStyle.Secondary)
      .setDisabled(!hasPrev),
    new ButtonBuilder()
      .setCustomId(customId(HISTORY_ACTION, hasNext ? `${h.page + 1}:b${last.id}` : String(h.page + 1)))
      .setLabel('Next ▶')
      .setStyle(ButtonStyle.Secondary)
      .setDisabled(!hasNext),
  );
  return { embeds: [embed], components: [row] };
}

/** Parses a history button's arg: `<page>` (old messages, disabled buttons) or `<page>:<a|b><id>`. */
export function parseHistoryArg(arg: string): { page: number; cursor?: HistoryCursor } {
  const m = /^(\d+)(?::([ab])(\d+))?$/.exec(arg);
  if (!m) return { page: 1 };
  const page = Number(m[1]);
  if (!m[2]) return { page };
  const id = BigInt(m[3]!);
  return { page, cursor: m[2] === 'a' ? { after: id } : { before: id } };
}

export function airdropView(ledger: Pick<LedgerService, 'format'>, a: Airdrop) {
  const open = a.status === 'open' && a.expires_at.getTime() > Date.now();
  const per = ledger.format(a.per_claim_amount, a.currency);
  const state =
    a.status === 'completed' ? 'All claims taken.' : open ? `Ends <t:${Math.floor(a.expires_at.getTime() / 1000)}:R>.` : 'Expired — the rest went back to the creator.';
  const embed = new EmbedBuilder()
    .setTitle('🪂 Airdrop!')
    .setColor(0x9945ff)
    .setDescription(`Claim **${per}** — ${a.claims_made}/${a.claims_allowed} claimed. ${state}`);
  const row = new ActionRowBuilder<ButtonBuilder>().addComponents(
    new ButtonBuilder()
      .setCustomId(customId(AIRDROP_CLAIM_ACTION, String(a.id)))
      .setLabel(`Claim ${per}`)
      .setStyle(ButtonStyle.Success)
      .setDisabled(!open),
  );
  return { embeds: [embed], components: [row] };
}

export function confirmView(confirmationId: bigint) {
  return new ActionRowBuilder<ButtonBuilder>().addComponents(
    new ButtonBuilder().setCustomId(customId(TIP_CONFIRM_ACTION, String(confirmationId))).setLabel('Confirm').setStyle(ButtonStyle.Danger),
    new ButtonBuilder().setCustomId(customId(TIP_CANCEL_ACTION, String(confirmationId))).setLabel('Cancel').setStyle(ButtonStyle.Secondary),
  );
}

/** Parses a custom-id arg that must be a positive integer id. */
export function idArg(arg: string): bigint {
  return /^\d{1,18}$/.test(arg) ? BigInt(arg) : 0n;
}

const MENTION = /<@!?(\d{15,22})>|\b(\d{15,22})\b/g;

const UNKNOWN_SHOWN = 5;

/**
 * Users named in a free-text option as mentions (or raw ids); unknown ids are a UserError naming (a few of) them.
 * The recipient cap is checked on the ids first (`chosen` = ids already picked by other options), so a pasted wall
 * of mentions costs no fetches; the rest are fetched concurrently (cached users need no request).
 */
export async function mentionedUsers(interaction: Interaction, text: string | null, chosen: string[] = []): Promise<DiscordUserRef[]> {
  if (!text?.trim()) return [];
  const ids = [...new Set([...text.matchAll(MENTION)].map((m) => m[1] ?? m[2]!))];
  if (ids.length === 0) throw new UserError('NO_MENTIONS', 'Mention the members to tip in `users`, e.g. `@alice @bob`.');
  if (new Set([...chosen, ...ids]).size > MAX_RECIPIENTS) {
    throw new UserError('TOO_MANY_RECIPIENTS', `Tip at most ${MAX_RECIPIENTS} members at once.`);
  }
  const users = await Promise.all(ids.map((id) => interaction.client.users.fetch(id).catch(() => undefined)));
  const missing = ids.filter((_, i) => !users[i]);
  if (missing.length) {
    const shown = missing.slice(0, UNKNOWN_SHOWN).map((id) => `<@${id}>`).join(', ');
    const more = missing.length > UNKNOWN_SHOWN ? ` and ${missing.length - UNKNOWN_SHOWN} more` : '';
    throw new UserError('UNKNOWN_USER', `Unknown member(s): ${shown}${more}.`);
  }
  return users.map((u) => refOf(u!));
}
