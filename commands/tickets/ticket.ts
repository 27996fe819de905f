import { MessageFlags, SlashCommandBuilder, type ChatInputCommandInteraction, type SlashCommandSubcommandBuilder } from 'discord.js';
import type { AppContext } from '../../src/app-context';
import type { Command } from '../../src/discord/command';
import { UserError } from '../../src/errors';
import {
  checkCanNote,
  claimTicket,
  closeTicket,
  linkTicket,
  replyToTicket,
  requestTicketClose,
  setTicketPriority,
  unclaimTicket,
  type TicketOutcome,
} from '../../src/modules/tickets/tickets.actions';
import { guildTicketPolicy, resolveTicketId, ticketActor } from '../../src/modules/tickets/tickets.actor';
import { parsePriority, REPLY_MAX, type TicketActor } from '../../src/modules/tickets/tickets.service';
import { TICKET_PRIORITIES, TICKET_STATUSES } from '../../src/modules/tickets/tickets.tables';
import { listView, noteModal, openModal, panelMessage, transcriptAttachment } from '../../src/modules/tickets/tickets.views';

const priorityChoices = TICKET_PRIORITIES.map((p) => ({ name: p, value: p }));
const statusChoices = TICKET_STATUSES.map((s) => ({ name: s.replace('_', ' '), value: s }));

/** A subcommand about one ticket: its `id` option comes last and defaults to the ticket whose thread it runs in. */
function aboutTicket(name: string, description: string, options: (s: SlashCommandSubcommandBuilder) => SlashCommandSubcommandBuilder = (s) => s) {
  return (s: SlashCommandSubcommandBuilder) =>
    options(s.setName(name).setDescription(description)).addIntegerOption((o) =>
      o.setName('id').setDescription('Ticket number (default: this thread)').setMinValue(1),
    );
}

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
  .addSubcommand(
    aboutTicket('reply', 'Write in a ticket (recorded in its transcript)', (s) =>
      s.addStringOption((o) => o.setName('message').setDescription('Your message').setRequired(true).setMaxLength(REPLY_MAX)),
    ),
  )
  .addSubcommand(aboutTicket('note', 'Add a staff-only note (staff)'))
  .addSubcommand(aboutTicket('claim', 'Take a ticket (staff)'))
  .addSubcommand(aboutTicket('unclaim', 'Give a ticket back to the queue (staff)'))
  .addSubcommand(
    aboutTicket('priority', 'Change a ticket priority (staff)', (s) =>
      s.addStringOption((o) => o.setName('level').setDescription('New priority').setRequired(true).addChoices(...priorityChoices)),
    ),
  )
  .addSubcommand(
    aboutTicket('link', 'Link a tip, withdrawal or invoice to a ticket', (s) =>
      s.addStringOption((o) => o.setName('ref').setDescription('e.g. tip:123, withdrawal:45, invoice:67').setRequired(true).setMaxLength(80)),
    ),
  )
  .addSubcommand(aboutTicket('request-close', 'Ask the member to confirm their ticket can be closed (staff)'))
  .addSubcommand(
    aboutTicket('close', 'Close a ticket (staff: any; members: their own)', (s) =>
      s.addStringOption((o) => o.setName('reason').setDescription('Shown to the member').setMaxLength(500)),
    ),
  )
  .addSubcommand(aboutTicket('transcript', 'Download a ticket transcript (Markdown)'))
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

/** The subcommands that run one ticket action (tickets.actions.ts) and answer with its reply. */
const actions: Record<string, (i: ChatInputCommandInteraction, ctx: AppContext, actor: TicketActor, id: bigint) => Promise<TicketOutcome>> = {
  reply: (i, ctx, actor, id) => replyToTicket(ctx, actor, id, i.options.getString('message', true), i.id),
  claim: (_i, ctx, actor, id) => claimTicket(ctx, actor, id),
  unclaim: (_i, ctx, actor, id) => unclaimTicket(ctx, actor, id),
  priority: (i, ctx, actor, id) => setTicketPriority(ctx, actor, id, i.options.getString('level', true)),
  link: (i, ctx, actor, id) => linkTicket(ctx, actor, id, i.options.getString('ref', true)),
  'request-close': (_i, ctx, actor, id) => requestTicketClose(ctx, actor, id),
  close: (i, ctx, actor, id) => closeTicket(ctx, actor, id, i.options.getString('reason') ?? undefined),
};

export default {
  data,
  async autocomplete(interaction, ctx) {
    const typed = interaction.options.getFocused().toLowerCase();
    const { categories } = await guildTicketPolicy(ctx, interaction.guildId);
    await interaction.respond(
      categories.filter((c) => c.includes(typed)).slice(0, 25).map((c) => ({ name: c, value: c })),
    );
  },
  async execute(interaction, ctx) {
    const tickets = ctx.services.tickets;
    const actor = await ticketActor(interaction, ctx);
    const sub = interaction.options.getSubcommand(true);

    const action = actions[sub];
    if (action) {
      const id = await ticketId(interaction, ctx);
      await interaction.deferReply(ephemeral);
      await interaction.editReply((await action(interaction, ctx, actor, id)).reply);
      return;
    }

    switch (sub) {
      case 'open': {
        if (!interaction.inGuild()) throw new UserError('GUILD_ONLY', 'Open tickets from the server, not in DMs.');
        const policy = await guildTicketPolicy(ctx, interaction.guildId);
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
        await channel.send(panelMessage((await guildTicketPolicy(ctx, interaction.guildId)).categories));
        await interaction.editReply('✅ Ticket panel posted.');
        return;
      }
      case 'note': {
        const ticket = await checkCanNote(ctx, actor, await ticketId(interaction, ctx));
        await interaction.showModal(noteModal(ticket.id));
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
      default:
        throw new UserError('UNKNOWN_SUBCOMMAND', `/ticket ${sub} is not available.`);
    }
  },
} satisfies Command;
