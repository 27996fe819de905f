import { ChannelType } from 'discord.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../../app-context';
import { startDiscordEmulator, type DiscordEmulator, type EmuChannel, type EmuMessage, type EmuRole, type EmuUser } from '../../emulators/discord';
import { renderMessage } from '../../emulators/discord/render-message';
import { failOnEmulatorGaps } from '../../emulators/discord/vitest-helpers';
import { startTestApp, type TestApp } from '../../testing/test-app';
import type { TestDatabase } from '../../testing/test-db';
import { openTicketThread, submitTicketForm } from './tickets.testing';

let t: TestDatabase;
let ctx: AppContext;
let emu: DiscordEmulator;
let bot: TestApp;
let support: EmuChannel;
let staffRole: EmuRole;
const ADMIN_TOKEN = 'admin-token-for-tickets-e2e-0001';

beforeAll(async () => {
  emu = await startDiscordEmulator({ guildName: 'Tickets Guild' });
  support = emu.channel('support');
  staffRole = emu.role('Support Staff');
  bot = await startTestApp({
    emu,
    env: {
      TICKETS_SUPPORT_CHANNEL_ID: support.id,
      TICKETS_STAFF_ROLE_ID: staffRole.id,
      TICKETS_MAX_OPEN_PER_USER: '2',
      TICKETS_OPEN_COOLDOWN_SECONDS: '0',
      ADMIN_TOKEN: ADMIN_TOKEN,
    },
  });
  ({ ctx, t } = bot);
});

afterAll(async () => {
  await bot?.close();
  await emu?.close();
});

failOnEmulatorGaps(() => emu);

const ticketRow = (id: bigint | string) => t.db.selectFrom('tickets').selectAll().where('id', '=', BigInt(id)).executeTakeFirstOrThrow();
const countTickets = async () => Number((await t.db.selectFrom('tickets').select((eb) => eb.fn.countAll<bigint>().as('n')).executeTakeFirstOrThrow()).n);

const openTicket = (user: EmuUser, fields: { subject: string; description: string }, options?: Record<string, string>) => submitTicketForm(emu, user, fields, options);
const openOk = (user: EmuUser, subject = 'Deposit missing') => openTicketThread(emu, user, subject);

const lastMessage = (target: EmuChannel | EmuUser): EmuMessage => emu.channelMessages(target).at(-1)!;

describe('ticket lifecycle through Discord', () => {
  it('open (modal) → private thread + member + staff ping → claim → note → reply/link → request close → member confirms → archived, transcript, rating', async () => {
    const alice = emu.user('alice');
    const sam = emu.user('sam', { roles: [staffRole] });

    const { modal, reply } = await openTicket(alice, { subject: 'Deposit missing', description: 'I sent 1 SOL an hour ago.' });
    expect(modal.custom_id).toBe('ticket-open:wallet:high');
    expect(reply.ephemeral).toBe(true);
    const [, id, threadId] = /Ticket \*\*#(\d+)\*\* opened: <#(\d+)>/.exec(reply.content)!;
    const thread = emu.channels.get(threadId!)!;
    expect(thread).toMatchObject({ type: ChannelType.PrivateThread, parentId: support.id, archived: false });
    expect(emu.threadMembers).toContainEqual({ threadId: thread.id, userId: alice.id });
    const card = emu.channelMessages(thread)[0]!;
    expect(card.content).toContain(`<@&${staffRole.id}>`);
    expect(card.content).toContain(`<@${alice.id}>`);
    expect(renderMessage(card)).toContain(`[Claim](ticket-claim:${id})`);
    expect(await ticketRow(id!)).toMatchObject({ status: 'open', priority: 'high', category: 'wallet', subject: 'Deposit missing', thread_id: thread.id, discord_id: alice.id });

    // The member cannot use the staff controls on their own ticket card.
    const denied = await emu.click(alice, card, `ticket-claim:${id}`).reply();
    expect(denied.content).toBe('❌ Only support staff can claim tickets.');
    expect((await ticketRow(id!)).status).toBe('open');

    expect((await emu.click(sam, card, `ticket-claim:${id}`).reply()).content).toBe(`🙋 You claimed ticket #${id}.`);
    expect(await ticketRow(id!)).toMatchObject({ status: 'claimed' });
    expect(renderMessage(card)).toContain(`[Unclaim](ticket-unclaim:${id})`);
    expect(renderMessage(card)).toContain(`Claimed by: <@${sam.id}>`);
    expect(lastMessage(thread).content).toContain(`<@${sam.id}> claimed this ticket`);

    const noteShown = emu.click(sam, card, `ticket-note:${id}`);
    await noteShown.modal();
    const noted = await emu.submitModal(sam, noteShown, `ticket-note-submit:${id}`, { text: 'SECRET: deposit watcher lagging' }).reply();
    expect(noted.ephemeral).toBe(true);
    expect(emu.channelMessages(thread).map((m) => m.content).join('\n')).not.toContain('SECRET');

    await emu.runCommand(alice, '/ticket reply', { message: 'any news?' }, { channel: thread }).reply();
    expect(lastMessage(thread).content).toBe('💬 **alice**: any news?');
    const badLink = await emu.runCommand(sam, '/ticket link', { ref: 'tip 12' }, { channel: thread }).reply();
    expect(badLink.content).toMatch(/^❌ "tip 12" is not a reference/);
    expect((await emu.runCommand(sam, '/ticket link', { ref: 'tip:123' }, { channel: thread }).reply()).content).toBe(`🔗 Ticket #${id} linked to tip:123.`);
    expect(renderMessage(card)).toContain('Linked: tip:123');

    await emu.click(sam, card, `ticket-request-close:${id}`).reply();
    expect((await ticketRow(id!)).status).toBe('pending_close');
    const request = lastMessage(thread);
    expect(request.content).toContain(`<@${alice.id}>`);
    expect((await emu.click(sam, request, `ticket-confirm-close:${id}`).reply()).content).toBe(`❌ Only the member who opened ticket #${id} can answer the close request.`);

    const confirmed = await emu.click(alice, request, `ticket-confirm-close:${id}`).reply();
    expect(confirmed.content).toBe(`🔒 Ticket #${id} closed. Thanks! Check your DMs for the transcript.`);
    expect(await ticketRow(id!)).toMatchObject({ status: 'closed', close_reason: 'Confirmed by the member', linked_ref: 'tip:123' });
    expect(thread).toMatchObject({ archived: true, locked: true });
    expect(renderMessage(card)).not.toContain('ticket-claim');

    const dm = lastMessage(alice);
    expect(dm.files.map((f) => f.name)).toEqual([`ticket-${id}-transcript.md`]);
    const transcript = dm.files[0]!.data.toString();
    expect(transcript).toContain(`# Ticket #${id} — Deposit missing`);
    expect(transcript).toContain('any news?');
    expect(transcript).not.toContain('SECRET');
    expect(renderMessage(dm)).toContain(`(ticket-rate:${id}:5)`);

    const rated = await emu.click(alice, dm, `ticket-rate:${id}:5`).reply();
    expect(rated.content).toContain('(5/5)');
    expect((await ticketRow(id!)).rating).toBe(5);
    const fbShown = emu.click(alice, dm, `ticket-feedback:${id}`);
    await fbShown.modal();
    await emu.submitModal(alice, fbShown, `ticket-feedback-submit:${id}`, { text: 'fast and friendly' }).reply();
    expect((await ticketRow(id!)).feedback).toBe('fast and friendly');

    // Transcripts stay available: members get theirs without notes, staff get the full copy.
    const mine = await emu.runCommand(alice, '/ticket transcript', { id: Number(id) }).reply();
    expect(mine.files[0]!.data.toString()).not.toContain('SECRET');
    const staffCopy = await emu.runCommand(sam, '/ticket transcript', { id: Number(id) }).reply();
    expect(staffCopy.files[0]!.name).toBe(`ticket-${id}-transcript-staff.md`);
    expect(staffCopy.files[0]!.data.toString()).toContain('SECRET: deposit watcher lagging');

    // Closed: only transcript and rating remain; nothing changes.
    const before = await ticketRow(id!);
    const refused = await emu.runCommand(sam, '/ticket claim', { id: Number(id) }).reply();
    expect(refused.content).toMatch(new RegExp(`^❌ Ticket #${id} is closed`));
    expect((await emu.runCommand(alice, '/ticket reply', { message: 'hello?', id: Number(id) }).reply()).content).toMatch(/is closed/);
    expect(await ticketRow(id!)).toEqual(before);
  });
});

describe('bad inputs', () => {
  it('empty or too long fields, unknown category: clear errors, no ticket, no thread', async () => {
    const bob = emu.user('bob');
    const tickets = await countTickets();
    const threads = emu.channels.size;
    expect((await openTicket(bob, { subject: '   ', description: 'x' })).reply.content).toBe('❌ The subject cannot be empty.');
    expect((await openTicket(bob, { subject: 'ok', description: 'd'.repeat(2001) })).reply.content).toBe(
      '❌ The description is too long (2001 characters; at most 2000).',
    );
    const unknown = await emu.runCommand(bob, '/ticket open', { category: 'refunds' }).reply();
    expect(unknown.content).toBe('❌ Unknown category "refunds". Choose one of: general, billing, wallet, bug.');
    expect(await countTickets()).toBe(tickets);
    expect(emu.channels.size).toBe(threads);
  });

  it('a support channel that cannot be used: clear error, the ticket row is dropped again', async () => {
    // The guild's support channel was deleted after /setup saved it (written directly: /setup refuses unknown ids).
    await t.db.insertInto('guild_settings').values({ guild_id: emu.guild.id, support_channel_id: '100000000000000001' }).execute();
    try {
      const count = await countTickets();
      const { reply } = await openTicket(emu.user('bob'), { subject: 'hi', description: 'there' });
      expect(reply.content).toMatch(/^❌ Tickets cannot be opened here: the support channel is not a text channel of this server I can see/);
      expect(await countTickets()).toBe(count);
    } finally {
      await t.db.deleteFrom('guild_settings').where('guild_id', '=', emu.guild.id).execute();
    }
  });

  it('members cannot post panels, see others, or manage tickets', async () => {
    const carol = emu.user('carol');
    const dave = emu.user('dave');
    const { id, card } = await openOk(carol, 'Withdrawal stuck');
    const before = await ticketRow(id);
    expect((await emu.runCommand(dave, '/ticket panel').reply()).content).toBe('❌ Only support staff can post the ticket panel.');
    expect((await emu.runCommand(dave, '/ticket transcript', { id: Number(id) }).reply()).content).toMatch(/^❌ Ticket #\d+ is not yours/);
    expect((await emu.runCommand(dave, '/ticket close', { id: Number(id) }).reply()).content).toMatch(/is not yours/);
    expect((await emu.select(carol, card, `ticket-priority:${id}`, ['urgent']).reply()).content).toBe('❌ Only support staff can change the priority.');
    expect((await emu.click(carol, card, `ticket-note:${id}`).reply()).content).toBe('❌ Only support staff can add staff notes.');
    expect(await ticketRow(id)).toEqual(before);

    // The owner may close their own ticket with a reason.
    const shown = emu.click(carol, card, `ticket-close:${id}`);
    await shown.modal();
    await emu.submitModal(carol, shown, `ticket-close-submit:${id}`, { text: 'found it myself' }).reply();
    expect(await ticketRow(id)).toMatchObject({ status: 'closed', close_reason: 'found it myself' });
  });

  it('the open-ticket limit is enforced on /ticket open and on the panel, before the modal', async () => {
    const erin = emu.user('erin');
    const staff = emu.user('sam', { roles: [staffRole] });
    await openOk(erin, 'one');
    await openOk(erin, 'two');
    const count = await countTickets();
    const limited = await emu.runCommand(erin, '/ticket open').reply();
    expect(limited.content).toBe('❌ You already have 2 open tickets (the limit is 2). Close one before opening another.');

    await emu.runCommand(staff, '/ticket panel').reply();
    const panel = lastMessage(emu.channel('general'));
    expect(renderMessage(panel)).toContain('[Open billing ticket](ticket-panel:billing)');
    expect((await emu.click(erin, panel, 'ticket-panel:billing').reply()).content).toMatch(/^❌ You already have 2 open tickets/);
    expect(await countTickets()).toBe(count);

    // Someone under the limit gets the same modal from the panel.
    const fred = emu.user('fred');
    const shown = emu.click(fred, panel, 'ticket-panel:billing');
    expect((await shown.modal()).custom_id).toBe('ticket-open:billing:normal');
  });
});

describe('staff tools', () => {
  it('/ticket list pages with buttons; members only see their own', async () => {
    const gus = emu.user('gus');
    const sam = emu.user('sam', { roles: [staffRole] });
    const policy = { categories: ['general'], maxOpenPerUser: 100, openCooldownSeconds: 0, autoCloseHours: 48, warningHours: 12 };
    for (let i = 0; i < 12; i++) {
      await ctx.services.tickets.open({ opener: { discordId: gus.id, username: 'gus' }, guildId: emu.guild.id, category: 'general', priority: 'low', subject: `bulk ${i}`, description: 'x' }, policy);
    }
    const page1 = await emu.runCommand(sam, '/ticket list', { priority: 'low' }).reply();
    expect(renderMessage(page1).match(/bulk \d+/g)).toHaveLength(10);
    expect(renderMessage(page1)).toContain('bulk 11');
    const next = /\[Older ›\]\((ticket-list:[^)]*)\)/.exec(renderMessage(page1))![1]!;
    await emu.click(sam, page1, next).reply();
    expect(renderMessage(page1).match(/bulk \d+/g)).toEqual(['bulk 1', 'bulk 0']);
    expect(renderMessage(page1)).toContain('⏮ Newest');

    // Manage Server (no staff role) makes guild staff too; a bot-wide database role does not.
    const una = emu.user('una', { admin: true });
    expect(renderMessage(await emu.runCommand(una, '/ticket list', { priority: 'low' }).reply())).toContain('bulk 11');
    const ops = emu.user('ops');
    await ctx.services.users.setRole((await ctx.services.users.ensure(ops.id, 'ops')).id, 'ADMIN');
    expect(renderMessage(await emu.runCommand(ops, '/ticket list', { priority: 'low' }).reply())).not.toContain('bulk');

    const own = await emu.runCommand(emu.user('carol'), '/ticket list', { status: 'closed' }).reply();
    expect(renderMessage(own)).toContain('Withdrawal stuck');
    expect(renderMessage(own)).not.toContain('bulk');
  });

  it('auto-close job: warning in the thread, then closed + archived after the lead time', async () => {
    const hana = emu.user('hana');
    const { id, thread } = await openOk(hana, 'Quiet ticket');
    // Only this ticket is stale.
    await t.db.updateTable('tickets').set({ last_activity_at: new Date(Date.now() - 40 * 3_600_000) }).where('id', '=', BigInt(id)).execute();
    expect(await bot.app.jobs.runNow('tickets-auto-close')).toEqual({ status: 'ok', result: { warned: 1, closed: 0, failed: 0 } });
    expect(lastMessage(thread).content).toMatch(new RegExp(`^⏰ <@${hana.id}> this ticket has been quiet`));
    expect((await ticketRow(id)).warned_at).not.toBeNull();

    await t.db
      .updateTable('tickets')
      .set({ last_activity_at: new Date(Date.now() - 49 * 3_600_000), warned_at: new Date(Date.now() - 13 * 3_600_000) })
      .where('id', '=', BigInt(id))
      .execute();
    expect(await bot.app.jobs.runNow('tickets-auto-close')).toEqual({ status: 'ok', result: { warned: 0, closed: 1, failed: 0 } });
    expect(await ticketRow(id)).toMatchObject({ status: 'closed', closed_by: null, close_reason: 'No activity for 48 h' });
    expect(thread).toMatchObject({ archived: true, locked: true });
    expect(lastMessage(hana).files[0]!.name).toBe(`ticket-${id}-transcript.md`);
  });
});

describe('archived threads', () => {
  const WEEK_AND_A_DAY_MS = 8 * 24 * 3_600_000;
  /** Requests Discord refused for this thread (50083 Thread is archived among them). */
  const refusedIn = (thread: EmuChannel) => emu.requests.filter((r) => r.path.includes(`/channels/${thread.id}`) && r.status >= 400);

  it('a ticket whose thread Discord auto-archived: a claim reopens the thread, edits the card and says so there', async () => {
    const lea = emu.user('lea');
    const sam = emu.user('sam', { roles: [staffRole] });
    const { id, thread, card } = await openOk(lea, 'Quiet for a week');
    expect(emu.archiveIdleThreads(Date.now() + WEEK_AND_A_DAY_MS)).toContainEqual(expect.objectContaining({ id: thread.id }));
    expect(thread.archived).toBe(true);

    expect((await emu.click(sam, card, `ticket-claim:${id}`).reply()).content).toBe(`🙋 You claimed ticket #${id}.`);
    expect(thread).toMatchObject({ archived: false, locked: false });
    expect(renderMessage(card)).toContain(`Claimed by: <@${sam.id}>`);
    expect(lastMessage(thread).content).toBe(`🙋 <@${sam.id}> claimed this ticket and will help you.`);
    expect(refusedIn(thread)).toEqual([]);
  });

  it('closing a ticket whose thread auto-archived still announces, archives and locks it, and DMs the transcript', async () => {
    const max = emu.user('max');
    const { id, thread } = await openOk(max, 'Closed after a week');
    emu.archiveIdleThreads(Date.now() + WEEK_AND_A_DAY_MS);
    const closed = await fetch(`${bot.app.httpUrl}/admin/tickets/${id}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ status: 'closed', close_reason: 'done' }),
    });
    expect(closed.status).toBe(200);
    expect(lastMessage(max).files[0]!.name).toBe(`ticket-${id}-transcript.md`);
    expect(thread).toMatchObject({ archived: true, locked: true });
    expect(lastMessage(thread).content).toMatch(/^🔒 Ticket closed by/);
    expect(refusedIn(thread)).toEqual([]);
    // Closed for good: nothing reopens its archived, locked thread.
    const posted = await fetch(`${emu.apiUrl}/v10/channels/${thread.id}/messages`, {
      method: 'POST',
      headers: { authorization: `Bot ${emu.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ content: 'late' }),
    });
    expect([posted.status, await posted.json()]).toEqual([400, { code: 50083, message: 'Thread is archived' }]);
  });
});

describe('admin API changes show in Discord', () => {
  const patch = (id: string, body: object) =>
    fetch(`${bot.app.httpUrl}/admin/tickets/${id}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  /** The bot's REST calls to one channel's messages (what the emulator received, before it stored anything). */
  const requestsTo = (channelId: string, method: string) => emu.requests.filter((r) => r.method === method && r.path.includes(`/channels/${channelId}/messages`));

  it('a claim and a priority change edit the ticket card and say so in the thread, like the buttons do', async () => {
    const ivy = emu.user('ivy');
    const kim = emu.user('kim');
    await ctx.services.users.setRole((await ctx.services.users.ensure(kim.id, 'kim')).id, 'SUPPORT');
    const { id, thread, card } = await openOk(ivy, 'Claimed over HTTP');
    const edits = () => requestsTo(thread.id, 'PATCH').filter((r) => r.path.endsWith(`/messages/${card.id}`)).length;
    const before = edits();

    const claimed = await patch(id, { claim: kim.id });
    expect(claimed.status).toBe(200);
    expect(edits()).toBe(before + 1);
    expect(card.edited_timestamp).not.toBeNull();
    expect(renderMessage(card)).toContain(`Claimed by: <@${kim.id}>`);
    expect(renderMessage(card)).toContain(`[Unclaim](ticket-unclaim:${id})`);
    expect(lastMessage(thread).content).toBe(`🙋 <@${kim.id}> claimed this ticket and will help you.`);

    expect((await patch(id, { priority: 'urgent' })).status).toBe(200);
    expect(edits()).toBe(before + 2);
    expect(renderMessage(card)).toContain('🔴 urgent');
    expect(lastMessage(thread).content).toBe('Priority set to **urgent**.');
  });

  it('a close archives the thread and DMs the transcript without pinging anyone', async () => {
    const jo = emu.user('jo');
    const { id, thread } = await openOk(jo, '@everyone look');
    expect((await patch(id, { status: 'closed', close_reason: 'duplicate of <@1>' })).status).toBe(200);
    expect(thread).toMatchObject({ archived: true, locked: true });
    const dm = lastMessage(jo);
    expect(dm.files[0]!.name).toBe(`ticket-${id}-transcript.md`);
    const sent = requestsTo(dm.channel_id, 'POST').at(-1)!;
    expect(sent.body).toMatchObject({ allowed_mentions: { parse: [] } });
  });
});
