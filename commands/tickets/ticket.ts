import { MessageFlags, SlashCommandBuilder, type ChatInputCommandInteraction } from 'discord.js';
import type { AppContext } from '../../src/app-context';
import type { Command } from '../../src/discord/command';
import { UserError } from '../../src/errors';
import {
  afterChange,
  afterClose,
  listView,
  noteModal,
  openModal,
  panelMessage,
  postCloseRequest,
  resolveTicketId,
  ticketActor,
  ticketPolicy,
  transcriptAttachment,
} from '../../src/modules/tickets/tickets.discord';
import { parsePriority, REPLY_MAX } from '../../src/modules/tickets/tickets.service';
import { TICKET_PRIORITIES, TICKET_STATUSES } from '../../src/modules/tickets/tickets.tables';

const priorityChoices = TICKET_PRIORITIES.map((p) => ({ name: p, value: p }));
const statusChoices = TICKET_STATUSES.map((s) => ({ name: s.replace('_', ' '), value: s }));

const data = new SlashCommandBuilder()
  .setName('ticket')
  .setDescription('Support tickets')
  .addSubcommand((s) =>
    s
      .setName('open')
      .setDescription('Open a private support ticket')
      .addStringOption((o) => o.setName('category').setDescription('What is it about?').setAutocomplete(true))
      .addStringOption((o) => o.setName('priority').setDescription('How urgent is it? (default normal)').addChoices(...priorityChoices)),
  )
  .addSubcommand((s) => s.setName('panel').setDescription('Post an "Open ticket" panel in this channel (staff)'))
  .addSubcommand((s) =>
    s
      .setName('reply')
      .setDescription('Write in a ticket (recorded in its transcript)')
      .addStringOption((o) => o.setName('message').setDescription('Your message').setRequired(true).setMaxLength(REPLY_MAX))
      .addIntegerOption((o) => o.setName('id').setDescription('Ticket number (default: this thread)').setMinValue(1)),
  )
  .addSubcommand((s) =>
    s
      .setName('note')
      .setDescription('Add a staff-only note (staff)')
      .addIntegerOption((o) => o.setName('id').setDescription('Ticket number (default: this thread)').setMinValue(1)),
  )
  .addSubcommand((s) =>
    s
      .setName('claim')
      .setDescription('Take a ticket (staff)')
      .addIntegerOption((o) => o.setName('id').setDescription('Ticket number (default: this thread)').setMinValue(1)),
  )
  .addSubcommand((s) =>
    s
      .setName('unclaim')
      .setDescription('Give a ticket back to the queue (staff)')
      .addIntegerOption((o) => o.setName('id').setDescription('Ticket number (default: this thread)').setMinValue(1)),
  )
  .addSubcommand((s) =>
    s
      .setName('priority')
      .setDescription('Change a ticket priority (staff)')
      .addStringOption((o) => o.setName('level').setDescription('New priority').setRequired(true).addChoices(...priorityChoices))
      .addIntegerOption((o) => o.setName('id').setDescription('Ticket number (default: this thread)').setMinValue(1)),
  )
  .addSubcommand((s) =>
    s
      .setName('link')
      .setDescription('Link a tip, withdrawal or invoice to a ticket')
      .addStringOption((o) => o.setName('ref').setDescription('e.g. tip:123, withdrawal:45, invoice:67').setRequired(true).setMaxLength(80))
      .addIntegerOption((o) => o.setName('id').setDescription('Ticket number (default: this thread)').setMinValue(1)),
  )
  .addSubcommand((s) =>
    s
      .setName('request-close')
      .setDescription('Ask the member to confirm their ticket can be closed (staff)')
      .addIntegerOption((o) => o.setName('id').setDescription('Ticket number (default: this thread)').setMinValue(1)),
  )
  .addSubcommand((s) =>
    s
      .setName('close')
      .setDescription('Close a ticket (staff: any; members: their own)')
      .addStringOption((o) => o.setName('reason').setDescription('Shown to the member').setMaxLength(500))
      .addIntegerOption((o) => o.setName('id').setDescription('Ticket number (default: this thread)').setMinValue(1)),
  )
  .addSubcommand((s) =>
    s
      .setName('transcript')
      .setDescription('Download a ticket transcript (Markdown)')
      .addIntegerOption((o) => o.setName('id').setDescription('Ticket number (default: this thread)').setMinValue(1)),
  )
  .addSubcommand((s) =>
    s
      .setName('list')
      .setDescription('List tickets (members: your own)')
      .addStringOption((o) => o.setName('status').setDescription('Default: everything not closed').addChoices(...statusChoices))
      .addStringOption((o) => o.setName('priority').setDescription('Only this priority').addChoices(...priorityChoices))
      .addBooleanOption((o) => o.setName('mine').setDescription('Staff: only tickets you claimed')),
  );

const ephemeral = { flags: MessageFlags.Ephemeral } as const;

async function ticketId(interaction: ChatInputCommandInteraction, ctx: AppContext): Promise<bigint> {
  return resolveTicketId(ctx, interaction.options.getInteger('id'), interaction.channelId);
}

export default {
  data,
  async autocomplete(interaction, ctx) {
    const typed = interaction.options.getFocused().toLowerCase();
    await interaction.respond(
      ctx.config.TICKETS_CATEGORIES.filter((c) => c.includes(typed)).slice(0, 25).map((c) => ({ name: c, value: c })),
    );
  },
  async execute(interaction, ctx) {
    const tickets = ctx.services.tickets;
    const actor = await ticketActor(interaction, ctx);
    const sub = interaction.options.getSubcommand(true);
    const client = interaction.client;

    switch (sub) {
      case 'open': {
        if (!interaction.inGuild()) throw new UserError('GUILD_ONLY', 'Open tickets from the server, not in DMs.');
        const policy = ticketPolicy(ctx.config);
        const category = tickets.category(interaction.options.getString('category'), policy);
        const priority = parsePriority(interaction.options.getString('priority'), 'normal');
        await tickets.checkCanOpen(interaction.user.id, policy);
        await interaction.showModal(openModal(category, priority));
        return;
      }
      case 'panel': {
        if (!actor.isStaff) throw new UserError('TICKET_STAFF_ONLY', 'Only support staff can post the ticket panel.');
        const channel = interaction.channel;
        if (!interaction.inGuild() || !channel || !('send' in channel)) throw new UserError('GUILD_ONLY', 'Post the panel in a server text channel.');
        // A channel post first: its round trip (and any rate-limit wait) must not eat into the 3 s reply window.
        await interaction.deferReply(ephemeral);
        await channel.send(panelMessage(ctx.config.TICKETS_CATEGORIES));
        await interaction.editReply('✅ Ticket panel posted.');
        return;
      }
      case 'note': {
        const id = await ticketId(interaction, ctx);
        // Check access and state before showing the form, so nobody types a note that cannot be saved.
        if (!actor.isStaff) throw new UserError('TICKET_STAFF_ONLY', 'Only support staff can add staff notes.');
        const ticket = await tickets.get(id, actor);
        if (ticket.status === 'closed') throw new UserError('TICKET_CLOSED', `Ticket #${id} is closed and cannot be annotated.`);
        await interaction.showModal(noteModal(id));
        return;
      }
      case 'transcript': {
        const id = await ticketId(interaction, ctx);
        // Long tickets mean a big read and file: defer instead of racing the 3 s reply window.
        await interaction.deferReply(ephemeral);
        const { ticket, entries, includesNotes } = await tickets.transcript(id, actor);
        await interaction.editReply({
          content: `📄 Transcript of ticket #${ticket.id}${includesNotes ? ' (staff copy, includes staff notes)' : ''}.`,
          files: [transcriptAttachment(ticket, entries, includesNotes)],
        });
        return;
      }
      case 'list': {
        const state = {
          status: interaction.options.getString('status') ?? undefined,
          priority: interaction.options.getString('priority') ?? undefined,
          mine: interaction.options.getBoolean('mine') ?? false,
        };
        const page = await tickets.list(actor, state);
        await interaction.reply({ ...listView(page, state, actor), ...ephemeral });
        return;
      }
      case 'close': {
        const id = await ticketId(interaction, ctx);
        await interaction.deferReply(ephemeral);
        const ticket = await tickets.close(id, actor, interaction.options.getString('reason') ?? undefined);
        await afterClose(client, ctx, ticket);
        await interaction.editReply(`🔒 Ticket #${ticket.id} closed.`);
        return;
      }
    }

    // The remaining subcommands change an open ticket, then refresh its card and say so in the thread.
    const id = await ticketId(interaction, ctx);
    await interaction.deferReply(ephemeral);
    let reply: string;
    switch (sub) {
      case 'reply': {
        const message = interaction.options.getString('message', true);
        const ticket = await tickets.reply(id, actor, message, interaction.id);
        await afterChange(client, ticket, `💬 **${actor.username}**${actor.isStaff ? ' (staff)' : ''}: ${message.trim()}`);
        await interaction.editReply(`✅ Added to ticket #${id}.`);
        return;
      }
      case 'claim':
        await afterChange(client, await tickets.claim(id, actor), `🙋 <@${actor.discordId}> claimed this ticket and will help you.`);
        reply = `🙋 You claimed ticket #${id}.`;
        break;
      case 'unclaim':
        await afterChange(client, await tickets.unclaim(id, actor), '↩️ This ticket is back in the support queue.');
        reply = `↩️ Ticket #${id} unclaimed.`;
        break;
      case 'priority': {
        const ticket = await tickets.setPriority(id, actor, interaction.options.getString('level', true));
        const line = `Priority set to **${ticket.priority}**.`;
        await afterChange(client, ticket, line);
        reply = `✅ Ticket #${id}: ${line}`;
        break;
      }
      case 'link': {
        const ticket = await tickets.link(id, actor, interaction.options.getString('ref', true));
        await afterChange(client, ticket, `🔗 Linked **${ticket.linked_ref}**.`);
        reply = `🔗 Ticket #${id} linked to ${ticket.linked_ref}.`;
        break;
      }
      case 'request-close': {
        const ticket = await tickets.requestClose(id, actor);
        await afterChange(client, ticket, undefined);
        await postCloseRequest(client, ticket);
        reply = `⏳ Asked <@${ticket.discord_id}> to confirm closing ticket #${id}.`;
        break;
      }
      default:
        throw new UserError('UNKNOWN_SUBCOMMAND', `/ticket ${sub} is not available.`);
    }
    await interaction.editReply(reply);
  },
} satisfies Command;
