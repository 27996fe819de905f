import {
  ActionRowBuilder,
  AttachmentBuilder,
  ButtonBuilder,
  ButtonStyle,
  EmbedBuilder,
  ModalBuilder,
  StringSelectMenuBuilder,
  TextInputBuilder,
  TextInputStyle,
  type MessageCreateOptions,
} from 'discord.js';
import { customId } from '../../discord/component';
import {
  DESCRIPTION_MAX,
  FEEDBACK_MAX,
  NOTE_MAX,
  REASON_MAX,
  SUBJECT_MAX,
  type Ticket,
  type TicketActor,
  type TicketPage,
  type TranscriptEntry,
} from './tickets.service';
import { TICKET_PRIORITIES, type TicketPriority } from './tickets.tables';
import { renderTranscript } from './tickets.transcript';

// What tickets look like in Discord: the card, its controls, modals, the panel, the list and the close DM's rows.
// Pure builders (no client, no database): the effects in tickets.discord.ts and the components draw with them.

// Custom-id actions (one component file each under ./components).
export const A = {
  open: 'ticket-open',
  panel: 'ticket-panel',
  claim: 'ticket-claim',
  unclaim: 'ticket-unclaim',
  priority: 'ticket-priority',
  note: 'ticket-note',
  noteSubmit: 'ticket-note-submit',
  requestClose: 'ticket-request-close',
  close: 'ticket-close',
  closeSubmit: 'ticket-close-submit',
  confirmClose: 'ticket-confirm-close',
  keepOpen: 'ticket-keep-open',
  rate: 'ticket-rate',
  feedback: 'ticket-feedback',
  feedbackSubmit: 'ticket-feedback-submit',
  list: 'ticket-list',
} as const;

const STATUS_ICON: Record<Ticket['status'], string> = { open: '🟢', claimed: '🙋', pending_close: '⏳', closed: '🔒' };
const PRIORITY_ICON: Record<TicketPriority, string> = { low: '⚪', normal: '🔵', high: '🟠', urgent: '🔴' };
const COLOR: Record<Ticket['status'], number> = { open: 0x57f287, claimed: 0x5865f2, pending_close: 0xfee75c, closed: 0x99aab5 };

export function ticketEmbed(t: Ticket): EmbedBuilder {
  const embed = new EmbedBuilder()
    .setTitle(`${STATUS_ICON[t.status]} Ticket #${t.id} — ${t.subject}`)
    .setDescription(t.description)
    .setColor(COLOR[t.status])
    .addFields(
      { name: 'Member', value: `<@${t.discord_id}>`, inline: true },
      { name: 'Category', value: t.category, inline: true },
      { name: 'Priority', value: `${PRIORITY_ICON[t.priority]} ${t.priority}`, inline: true },
      { name: 'Status', value: t.status.replace('_', ' '), inline: true },
      { name: 'Claimed by', value: t.claimed_by_discord_id ? `<@${t.claimed_by_discord_id}>` : '—', inline: true },
    );
  if (t.linked_ref) embed.addFields({ name: 'Linked', value: t.linked_ref, inline: true });
  if (t.close_reason) embed.addFields({ name: 'Close reason', value: t.close_reason });
  return embed;
}

/** Staff controls under the opening message; none once closed. */
export function staffControls(t: Ticket): ActionRowBuilder<ButtonBuilder | StringSelectMenuBuilder>[] {
  if (t.status === 'closed') return [];
  const id = String(t.id);
  const buttons = new ActionRowBuilder<ButtonBuilder>().addComponents(
    t.claimed_by
      ? new ButtonBuilder().setCustomId(customId(A.unclaim, id)).setLabel('Unclaim').setStyle(ButtonStyle.Secondary)
      : new ButtonBuilder().setCustomId(customId(A.claim, id)).setLabel('Claim').setStyle(ButtonStyle.Primary),
    new ButtonBuilder().setCustomId(customId(A.note, id)).setLabel('Staff note').setStyle(ButtonStyle.Secondary),
    new ButtonBuilder()
      .setCustomId(customId(A.requestClose, id))
      .setLabel('Request close')
      .setStyle(ButtonStyle.Secondary)
      .setDisabled(t.status === 'pending_close'),
    new ButtonBuilder().setCustomId(customId(A.close, id)).setLabel('Close').setStyle(ButtonStyle.Danger),
  );
  const select = new ActionRowBuilder<StringSelectMenuBuilder>().addComponents(
    new StringSelectMenuBuilder()
      .setCustomId(customId(A.priority, id))
      .setPlaceholder('Set priority')
      .addOptions(TICKET_PRIORITIES.map((p) => ({ label: `${PRIORITY_ICON[p]} ${p}`, value: p, default: p === t.priority }))),
  );
  return [buttons, select];
}

export function openModal(category: string, priority: TicketPriority): ModalBuilder {
  return new ModalBuilder()
    .setCustomId(customId(A.open, `${category}:${priority}`))
    .setTitle(`New ${category} ticket`)
    .addComponents(
      new ActionRowBuilder<TextInputBuilder>().addComponents(
        new TextInputBuilder().setCustomId('subject').setLabel('Subject').setStyle(TextInputStyle.Short).setMaxLength(SUBJECT_MAX).setRequired(true),
      ),
      new ActionRowBuilder<TextInputBuilder>().addComponents(
        new TextInputBuilder()
          .setCustomId('description')
          .setLabel('What happened? (ids, amounts, times help)')
          .setStyle(TextInputStyle.Paragraph)
          .setMaxLength(DESCRIPTION_MAX)
          .setRequired(true),
      ),
    );
}

export function textModal(action: string, ticketId: bigint, title: string, label: string, max: number, required: boolean): ModalBuilder {
  return new ModalBuilder()
    .setCustomId(customId(action, String(ticketId)))
    .setTitle(title)
    .addComponents(
      new ActionRowBuilder<TextInputBuilder>().addComponents(
        new TextInputBuilder().setCustomId('text').setLabel(label).setStyle(TextInputStyle.Paragraph).setMaxLength(max).setRequired(required),
      ),
    );
}

export const noteModal = (id: bigint) => textModal(A.noteSubmit, id, `Staff note on #${id}`, 'Note (staff only, never shown to the member)', NOTE_MAX, true);
export const closeModal = (id: bigint) => textModal(A.closeSubmit, id, `Close ticket #${id}`, 'Reason (shown to the member)', REASON_MAX, false);
export const feedbackModal = (id: bigint) => textModal(A.feedbackSubmit, id, `Feedback on ticket #${id}`, 'Anything we could do better?', FEEDBACK_MAX, false);

export function panelMessage(categories: readonly string[]): MessageCreateOptions {
  const rows: ActionRowBuilder<ButtonBuilder>[] = [];
  categories.forEach((c, i) => {
    if (i % 5 === 0) rows.push(new ActionRowBuilder<ButtonBuilder>());
    rows[rows.length - 1]!.addComponents(
      new ButtonBuilder().setCustomId(customId(A.panel, c)).setLabel(`Open ${c} ticket`).setStyle(ButtonStyle.Primary).setEmoji('🎫'),
    );
  });
  return {
    embeds: [
      new EmbedBuilder()
        .setTitle('Need help?')
        .setDescription('Pick a category to open a private support ticket. Only you and the support team can see it.')
        .setColor(0x9945ff),
    ],
    components: rows,
  };
}

export function ratingRow(t: Ticket): ActionRowBuilder<ButtonBuilder> {
  return new ActionRowBuilder<ButtonBuilder>().addComponents(
    [1, 2, 3, 4, 5].map((n) =>
      new ButtonBuilder().setCustomId(customId(A.rate, `${t.id}:${n}`)).setLabel('⭐'.repeat(n)).setStyle(n >= 4 ? ButtonStyle.Success : ButtonStyle.Secondary),
    ),
  );
}

export function feedbackRow(t: Ticket): ActionRowBuilder<ButtonBuilder> {
  return new ActionRowBuilder<ButtonBuilder>().addComponents(
    new ButtonBuilder().setCustomId(customId(A.feedback, String(t.id))).setLabel('Add feedback').setStyle(ButtonStyle.Secondary),
  );
}

export function transcriptAttachment(t: Ticket, entries: TranscriptEntry[], includesNotes: boolean): AttachmentBuilder {
  return new AttachmentBuilder(Buffer.from(renderTranscript(t, entries, { includesNotes }), 'utf8'), {
    name: `ticket-${t.id}-transcript${includesNotes ? '-staff' : ''}.md`,
  });
}

export interface ListState {
  status?: string | undefined;
  priority?: string | undefined;
  mine?: boolean | undefined;
  cursor?: string | undefined;
}

export function encodeListState(s: ListState): string {
  return [s.status ?? '', s.priority ?? '', s.mine ? '1' : '', s.cursor ?? ''].join(':');
}

export function decodeListState(arg: string): ListState {
  const [status, priority, mine, cursor] = arg.split(':');
  return { status: status || undefined, priority: priority || undefined, mine: mine === '1', cursor: cursor || undefined };
}

export function listView(page: TicketPage, state: ListState, actor: TicketActor) {
  const scope = actor.isStaff ? (state.mine ? 'claimed by you' : 'all members') : 'yours';
  const filters = [state.status ?? 'not closed', state.priority].filter(Boolean).join(', ');
  const lines = page.items.map(
    (t) =>
      `${STATUS_ICON[t.status]} **#${t.id}** ${PRIORITY_ICON[t.priority]} ${t.priority} · ${t.category} · ${t.subject}` +
      (t.thread_id ? ` · <#${t.thread_id}>` : '') +
      (t.claimed_by_discord_id ? ` · 🙋 <@${t.claimed_by_discord_id}>` : ''),
  );
  const embed = new EmbedBuilder()
    .setTitle(`Tickets — ${scope}`)
    .setDescription(lines.length ? lines.join('\n') : 'No tickets match.')
    .setFooter({ text: `Filter: ${filters}` })
    .setColor(0x5865f2);
  const components: ActionRowBuilder<ButtonBuilder>[] = [];
  const buttons: ButtonBuilder[] = [];
  if (state.cursor) {
    buttons.push(new ButtonBuilder().setCustomId(customId(A.list, encodeListState({ ...state, cursor: undefined }))).setLabel('⏮ Newest').setStyle(ButtonStyle.Secondary));
  }
  if (page.nextCursor) {
    buttons.push(new ButtonBuilder().setCustomId(customId(A.list, encodeListState({ ...state, cursor: page.nextCursor }))).setLabel('Older ›').setStyle(ButtonStyle.Primary));
  }
  if (buttons.length) components.push(new ActionRowBuilder<ButtonBuilder>().addComponents(buttons));
  return { embeds: [embed], components };
}

/** Under the close request in the thread: the member confirms or keeps the ticket open. */
export function closeRequestRow(t: Ticket): ActionRowBuilder<ButtonBuilder> {
  const id = String(t.id);
  return new ActionRowBuilder<ButtonBuilder>().addComponents(
    new ButtonBuilder().setCustomId(customId(A.confirmClose, id)).setLabel('Yes, close it').setStyle(ButtonStyle.Success),
    new ButtonBuilder().setCustomId(customId(A.keepOpen, id)).setLabel('No, I still need help').setStyle(ButtonStyle.Secondary),
  );
}
