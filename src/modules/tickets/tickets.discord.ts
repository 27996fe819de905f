import { interactionIdentity, isGuildStaff, type GuildMemberIdentity } from '../../discord/authorize';
import {
  ActionRowBuilder,
  AttachmentBuilder,
  ButtonBuilder,
  ButtonStyle,
  ChannelType,
  EmbedBuilder,
  ModalBuilder,
  StringSelectMenuBuilder,
  TextInputBuilder,
  TextInputStyle,
  ThreadAutoArchiveDuration,
  type Client,
  type Interaction,
  type Message,
  type MessageCreateOptions,
  type ThreadChannel,
} from 'discord.js';
import type { AppContext } from '../../app-context';
import { customId } from '../../discord/component';
import { UserError } from '../../errors';
import type { Logger } from '../../logger';
import {
  DESCRIPTION_MAX,
  FEEDBACK_MAX,
  NOTE_MAX,
  REASON_MAX,
  SUBJECT_MAX,
  type Ticket,
  type TicketPolicy,
  type TicketActor,
  type TicketDiscordEffects,
  type TicketPage,
  type TranscriptEntry,
} from './tickets.service';
import { TICKET_PRIORITIES, type TicketPriority } from './tickets.tables';
import { renderTranscript } from './tickets.transcript';

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

/**
 * Staff = guild staff of the guild the actor is in (Manage Server or that guild's staff role); the service lets them
 * act only on that guild's tickets. The bot-wide operator role gives no ticket powers.
 */
async function staffActor(ctx: AppContext, user: { id: string; username: string }, who: GuildMemberIdentity): Promise<TicketActor> {
  return { discordId: user.id, username: user.username, guildId: who.guildId, isStaff: await isGuildStaff(who, ctx) };
}

export function ticketActor(interaction: Interaction, ctx: AppContext): Promise<TicketActor> {
  return staffActor(ctx, interaction.user, interactionIdentity(interaction));
}

/** `ticketActor` for someone writing in a thread: the same rules, from the message's author and member. */
export function messageTicketActor(message: Message, ctx: AppContext): Promise<TicketActor> {
  return staffActor(ctx, message.author, {
    userId: message.author.id,
    guildId: message.guildId,
    permissions: message.member?.permissions,
    hasRole: (id) => message.member?.roles.cache.has(id) ?? false,
  });
}

/** The guild's ticket settings, read at the moment of use (a /setup change applies without a restart). */
export async function guildTicketPolicy(ctx: AppContext, guildId: string | null): Promise<TicketPolicy> {
  return (await ctx.services.guilds.settings(guildId)).tickets;
}

/** The ticket id from an explicit option, else the ticket whose thread this is. */
export async function resolveTicketId(ctx: AppContext, explicit: number | null, channelId: string | null): Promise<bigint> {
  if (explicit !== null) return BigInt(explicit);
  const ticket = channelId ? await ctx.services.tickets.findByThread(channelId) : undefined;
  if (!ticket) throw new UserError('TICKET_ID_REQUIRED', 'Run this inside a ticket thread, or pass the ticket `id`.');
  return ticket.id;
}

// ------------------------------------------------------------------ views

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

// ------------------------------------------------------------------ thread side effects

async function fetchThread(client: Client, threadId: string | null): Promise<ThreadChannel | undefined> {
  if (!threadId) return undefined;
  const channel = await client.channels.fetch(threadId).catch(() => null);
  return channel?.isThread() ? channel : undefined;
}

/** Creates the private thread, adds the member, pings staff with the ticket card; returns ids to store. */
export async function createTicketThread(
  client: Client,
  ctx: AppContext,
  ticket: Ticket,
  fallbackChannelId: string | null,
): Promise<{ threadId: string; messageId: string }> {
  const settings = await ctx.services.guilds.settings(ticket.guild_id);
  const channelId = settings.supportChannelId ?? fallbackChannelId;
  const parent = channelId ? await client.channels.fetch(channelId).catch(() => null) : null;
  // A default channel from config belongs to one guild only: never open another guild's ticket there.
  if (!parent || parent.type !== ChannelType.GuildText || parent.guildId !== ticket.guild_id) {
    throw new UserError('TICKET_NO_CHANNEL', 'Tickets cannot be opened here: the support channel is not a text channel of this server I can see. Ask the server staff to run `/setup tickets`.');
  }
  const slug = ticket.subject.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60);
  const thread = await parent.threads.create({
    name: `ticket-${ticket.id}${slug ? `-${slug}` : ''}`,
    type: ChannelType.PrivateThread,
    invitable: false,
    autoArchiveDuration: ThreadAutoArchiveDuration.OneWeek,
    reason: `Support ticket #${ticket.id}`,
  });
  try {
    await thread.members.add(ticket.discord_id);
    const staffRole = settings.staffRoleId;
    const message = await thread.send({
      content: `${staffRole ? `<@&${staffRole}> ` : ''}New **${ticket.category}** ticket from <@${ticket.discord_id}>. Staff: claim it below. <@${ticket.discord_id}>, write here or use \`/ticket reply\`.`,
      embeds: [ticketEmbed(ticket)],
      components: staffControls(ticket),
      allowedMentions: { users: [ticket.discord_id], roles: staffRole ? [staffRole] : [] },
    });
    return { threadId: thread.id, messageId: message.id };
  } catch (err) {
    await thread.delete().catch(() => undefined);
    throw err;
  }
}

/** Re-renders the opening message (status, claimer, controls) after a change. */
export async function refreshTicketCard(client: Client, ticket: Ticket): Promise<void> {
  const thread = await fetchThread(client, ticket.thread_id);
  if (!thread || !ticket.opening_message_id) return;
  await thread.messages.edit(ticket.opening_message_id, { embeds: [ticketEmbed(ticket)], components: staffControls(ticket) });
}

/** A public line in the ticket thread (visible to the member — never use for staff notes). */
export async function announce(client: Client, ticket: Ticket, content: string, extra: Omit<MessageCreateOptions, 'content'> = {}): Promise<void> {
  const thread = await fetchThread(client, ticket.thread_id);
  if (!thread || thread.archived) return;
  await thread.send({ content, allowedMentions: { users: [ticket.discord_id] }, ...extra });
}

/** A change that stays open: card refresh + a public line in the thread. */
export async function afterChange(client: Client, ticket: Ticket, line: string | undefined): Promise<void> {
  await refreshTicketCard(client, ticket);
  if (line) await announce(client, ticket, line);
}

/** Asks the member, in the thread, to confirm the close (or keep the ticket open). */
export async function postCloseRequest(client: Client, ticket: Ticket): Promise<void> {
  const id = String(ticket.id);
  await announce(client, ticket, `⏳ <@${ticket.discord_id}>, support thinks this is solved. Can we close the ticket?`, {
    components: [
      new ActionRowBuilder<ButtonBuilder>().addComponents(
        new ButtonBuilder().setCustomId(customId(A.confirmClose, id)).setLabel('Yes, close it').setStyle(ButtonStyle.Success),
        new ButtonBuilder().setCustomId(customId(A.keepOpen, id)).setLabel('No, I still need help').setStyle(ButtonStyle.Secondary),
      ),
    ],
  });
}

/**
 * After a close: announce, refresh the card (no controls), archive + lock the thread, then DM the member their
 * transcript and the rating prompt. Each step is best effort: the close itself is already committed.
 */
export function afterClose(client: Client, ctx: AppContext, ticket: Ticket): Promise<void> {
  return closeEffects(client, ctx.log, ticket, () => ctx.services.tickets.memberTranscript(ticket));
}

async function closeEffects(client: Client, log: Logger, ticket: Ticket, transcript: () => Promise<TranscriptEntry[]>): Promise<void> {
  const by = ticket.closed_by_discord_id ? `<@${ticket.closed_by_discord_id}>` : 'the system';
  const step = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (err) {
      log.warn({ err, ticket: String(ticket.id), step: what }, 'ticket close side effect failed');
    }
  };
  await step('announce', () => announce(client, ticket, `🔒 Ticket closed by ${by}${ticket.close_reason ? `: ${ticket.close_reason}` : ''}.`));
  await step('card', () => refreshTicketCard(client, ticket));
  await step('archive', async () => {
    const thread = await fetchThread(client, ticket.thread_id);
    if (thread && !thread.archived) await thread.edit({ locked: true, archived: true, reason: `Ticket #${ticket.id} closed` });
  });
  await step('dm', async () => {
    const entries = await transcript();
    const user = await client.users.fetch(ticket.discord_id);
    await user.send({
      content: `Your ticket **#${ticket.id} — ${ticket.subject}** was closed. The transcript is attached. How did we do?`,
      files: [transcriptAttachment(ticket, entries, false)],
      components: [ratingRow(ticket)],
    });
  });
}

/** The effects the auto-close job and admin API use, bound to the client (used once it is logged in). */
export function ticketDiscordEffects(client: Client, log: Logger): TicketDiscordEffects {
  return {
    async warn(t, closesAt) {
      const thread = await fetchThread(client, t.thread_id);
      if (!thread) throw new Error(`ticket ${t.id}: thread ${t.thread_id} not found`);
      await thread.send({
        content: `⏰ <@${t.discord_id}> this ticket has been quiet for a while and will close automatically <t:${Math.floor(closesAt.getTime() / 1000)}:R> unless someone writes here.`,
        allowedMentions: { users: [t.discord_id] },
      });
    },
    closed: (t, transcript) => closeEffects(client, log, t, transcript),
  };
}

