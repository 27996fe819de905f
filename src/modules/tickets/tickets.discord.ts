import { ChannelType, ThreadAutoArchiveDuration, type Client, type MessageCreateOptions, type ThreadChannel } from 'discord.js';
import type { AppContext } from '../../app-context';
import { fetchChannelOnAnyShard } from '../../discord/channels';
import { sendDm } from '../../discord/dm';
import { UserError } from '../../errors';
import type { Logger } from '../../logger';
import type { Ticket, TicketDiscordEffects, TranscriptEntry } from './tickets.service';
import { closeRequestRow, ratingRow, staffControls, ticketEmbed, transcriptAttachment } from './tickets.views';

// Tickets' Discord effects through the client: the private thread, the card, public lines in the thread, the close.
// Built once per client as the `ctx.effects.tickets` port (ticketDiscordEffects); what they draw is tickets.views.ts.

/** The ticket's thread, whichever shard its guild is on (jobs and the admin API run on any replica). */
async function fetchThread(client: Client, threadId: string | null): Promise<ThreadChannel | undefined> {
  if (!threadId) return undefined;
  const channel = await fetchChannelOnAnyShard(client, threadId).catch(() => null);
  return channel?.isThread() ? channel : undefined;
}

/**
 * The ticket's thread, reopened if Discord archived it (threads archive themselves after a week without messages, and
 * staff may archive one by hand): an archived thread refuses card edits and new members (50083 Thread is archived),
 * and a line posted there would reopen it anyway. A closed ticket's archived and locked thread stays closed:
 * undefined, nothing is written there any more.
 */
async function writableThread(client: Client, ticket: Ticket): Promise<ThreadChannel | undefined> {
  const thread = await fetchThread(client, ticket.thread_id);
  if (!thread?.archived) return thread;
  if (thread.locked && ticket.status === 'closed') return undefined;
  const reopened = await thread.edit({ archived: false, reason: `Ticket #${ticket.id} is active` });
  // edit() answers with the cached channel, and a thread of a guild this replica does not hold is not cached (edit
  // returns nothing): fetch it again for its unarchived state.
  return reopened ?? (await fetchThread(client, thread.id));
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
async function refreshTicketCard(client: Client, ticket: Ticket): Promise<void> {
  if (!ticket.opening_message_id) return;
  const thread = await writableThread(client, ticket);
  if (!thread) return;
  await thread.messages.edit(ticket.opening_message_id, { embeds: [ticketEmbed(ticket)], components: staffControls(ticket) });
}

/** A public line in the ticket thread (visible to the member — never use for staff notes). */
async function announce(client: Client, ticket: Ticket, content: string, extra: Omit<MessageCreateOptions, 'content'> = {}): Promise<void> {
  const thread = await writableThread(client, ticket);
  if (!thread) return;
  await thread.send({ content, allowedMentions: { users: [ticket.discord_id] }, ...extra });
}

/**
 * After a close: announce, refresh the card (no controls), archive + lock the thread, then DM the member their
 * transcript and the rating prompt. Each step is best effort: the close itself is already committed.
 */
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
    const thread = await writableThread(client, ticket);
    if (thread) await thread.edit({ locked: true, archived: true, reason: `Ticket #${ticket.id} closed` });
  });
  await step('dm', async () =>
    sendDm(client, ticket.discord_id, {
      content: `Your ticket **#${ticket.id} — ${ticket.subject}** was closed. The transcript is attached. How did we do?`,
      files: [transcriptAttachment(ticket, await transcript(), false)],
      components: [ratingRow(ticket)],
    }),
  );
}

/** The `ctx.effects.tickets` port, bound to the client (used once it is logged in). */
export function ticketDiscordEffects(client: Client, log: Logger): TicketDiscordEffects {
  return {
    async changed(t, line) {
      await refreshTicketCard(client, t);
      if (line) await announce(client, t, line);
    },
    async closeRequested(t) {
      await refreshTicketCard(client, t);
      await announce(client, t, `⏳ <@${t.discord_id}>, support thinks this is solved. Can we close the ticket?`, { components: [closeRequestRow(t)] });
    },
    async warn(t, closesAt) {
      const thread = await writableThread(client, t);
      if (!thread) throw new Error(`ticket ${t.id}: thread ${t.thread_id} not found`);
      await thread.send({
        content: `⏰ <@${t.discord_id}> this ticket has been quiet for a while and will close automatically <t:${Math.floor(closesAt.getTime() / 1000)}:R> unless someone writes here.`,
        allowedMentions: { users: [t.discord_id] },
      });
    },
    closed: (t, transcript) => closeEffects(client, log, t, transcript),
  };
}
