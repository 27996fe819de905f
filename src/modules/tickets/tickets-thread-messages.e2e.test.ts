import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startDiscordEmulator, type DiscordEmulator, type EmuRole, type EmuUser } from '../../emulators/discord';
import { failOnEmulatorGaps } from '../../emulators/discord/vitest-helpers';
import { startTestApp, type TestApp } from '../../testing/test-app';
import type { TestDatabase } from '../../testing/test-db';
import { openTicketThread } from './tickets.testing';

let t: TestDatabase;
let emu: DiscordEmulator;
let bot: TestApp;
let staffRole: EmuRole;
const logged: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  emu = await startDiscordEmulator({ guildName: 'Ticket Threads Guild' });
  const support = emu.channel('support');
  staffRole = emu.role('Support Staff');
  bot = await startTestApp({
    emu,
    env: { TICKETS_SUPPORT_CHANNEL_ID: support.id, TICKETS_STAFF_ROLE_ID: staffRole.id, TICKETS_OPEN_COOLDOWN_SECONDS: '0' },
    log: pino({ level: 'debug' }, { write: (line: string) => void logged.push(JSON.parse(line) as Record<string, unknown>) }),
    // The app loads ticket-thread.message.ts from disk like in production; this one shows a failing handler is
    // contained (logged with a reference, the others still run).
    extendRegistry: (registry) =>
      registry.registerMessageHandler({
        name: 'boom',
        async execute(message) {
          if (message.content.includes('boom')) throw new Error('handler exploded');
        },
      }),
  });
  t = bot.t;
});

afterAll(async () => {
  await bot?.close();
  await emu?.close();
});

failOnEmulatorGaps(() => emu);

const ticketRow = (id: string) => t.db.selectFrom('tickets').selectAll().where('id', '=', BigInt(id)).executeTakeFirstOrThrow();
const bodies = async (id: string) =>
  (await t.db.selectFrom('ticket_messages').select(['body', 'external_id']).where('ticket_id', '=', BigInt(id)).orderBy('id').execute()).map((m) => m.body);
const allMessages = async () => Number((await t.db.selectFrom('ticket_messages').select((eb) => eb.fn.countAll<bigint>().as('n')).executeTakeFirstOrThrow()).n);

const openTicket = (user: EmuUser, subject: string) => openTicketThread(emu, user, subject);

/** Messages are handled asynchronously after the gateway event: wait until the transcript has `n` of them. */
const waitForMessages = (id: string, n: number) => vi.waitFor(async () => expect(await bodies(id)).toHaveLength(n), { timeout: 10_000, interval: 20 });

describe('messages written in ticket threads', () => {
  it('member and staff messages land in the transcript in order and count as activity', async () => {
    const alice = emu.user('alice');
    const sam = emu.user('sam', { roles: [staffRole] });
    const { id, thread } = await openTicket(alice, 'Deposit missing');
    const opened = await ticketRow(id);
    emu.joinThread(sam, thread);

    emu.say(alice, thread, 'hello');
    await waitForMessages(id, 1);
    emu.say(sam, thread, 'Hi alice, checking the deposit watcher now.');
    await waitForMessages(id, 2);

    const row = await ticketRow(id);
    expect(row.last_activity_at.getTime()).toBeGreaterThan(opened.last_activity_at.getTime());
    // sam is staff through the Discord staff role only: the first-response clock starts.
    expect(row.first_staff_reply_at).not.toBeNull();

    const transcript = (await emu.runCommand(alice, '/ticket transcript', { id: Number(id) }).reply()).files[0]!.data.toString();
    const hello = transcript.indexOf(`**alice** (<@${alice.id}>)`);
    const staff = transcript.indexOf(`**sam** (<@${sam.id}>)`);
    expect(hello).toBeGreaterThan(-1);
    expect(staff).toBeGreaterThan(hello);
    expect(transcript.slice(hello)).toMatch(/hello[\s\S]*Hi alice, checking the deposit watcher now\./);
  });

  it('ignores other channels, non-ticket threads and bot messages (incl. the /ticket reply echo)', async () => {
    const bea = emu.user('bea');
    const { id, thread } = await openTicket(bea, 'Withdrawal stuck');
    const before = await allMessages();

    emu.say(bea, 'general', 'anyone around?');
    const other = emu.channels.get(
      ((await bot.client.rest.post(`/channels/${emu.channel('general').id}/threads`, { body: { name: 'chit-chat', type: 11 } })) as { id: string }).id,
    )!;
    emu.say(bea, other, 'not a ticket');
    emu.say(emu.bot, thread, 'a message from the bot itself');
    // The reply is recorded once by the command; its echo in the thread comes back over the gateway and is skipped.
    await emu.runCommand(bea, '/ticket reply', { message: 'via the command' }, { channel: thread }).reply();
    expect(emu.channelMessages(thread).at(-1)?.content).toBe('💬 **bea**: via the command');
    // A later message in the thread is recorded: everything dispatched before it has been seen by then.
    emu.say(bea, thread, 'barrier');
    await waitForMessages(id, 2);
    expect(await bodies(id)).toEqual(['via the command', 'barrier']);
    expect(await allMessages()).toBe(before + 2);
  });

  it('a failing handler is logged with a reference id and does not stop the others or the bot', async () => {
    const dee = emu.user('dee');
    const { id, thread } = await openTicket(dee, 'Boom');
    emu.say(dee, thread, 'boom goes the handler');
    await waitForMessages(id, 1);
    await vi.waitFor(() => expect(logged.find((l) => l.msg === 'message handler failed')).toBeDefined());
    const line = logged.find((l) => l.msg === 'message handler failed')!;
    expect(line).toMatchObject({ handler: 'boom', ref: expect.stringMatching(/^[0-9a-f]{8}$/), err: { message: 'handler exploded' }, message: { channel: thread.id, author: dee.id } });
    // Still serving: commands answer and later messages are recorded.
    emu.say(dee, thread, 'still here');
    await waitForMessages(id, 2);
    expect((await emu.runCommand(dee, '/ticket transcript', { id: Number(id) }).reply()).files[0]!.data.toString()).toContain('still here');
  });

  it('a message delivered twice is recorded once; nothing is recorded once the ticket is closed', async () => {
    const cal = emu.user('cal');
    const { id, thread } = await openTicket(cal, 'Duplicate');
    const first = emu.say(cal, thread, 'only once please');
    await waitForMessages(id, 1);
    // discord.js drops a replay it still has cached; a restarted bot has no cache, so the database must dedupe.
    emu.dispatchMessageCreate(first);
    const channel = bot.client.channels.cache.get(thread.id);
    if (!channel?.isThread()) throw new Error('thread not cached');
    channel.messages.cache.delete(first.id);
    emu.dispatchMessageCreate(first);
    emu.say(cal, thread, 'second');
    await waitForMessages(id, 2);
    expect(await bodies(id)).toEqual(['only once please', 'second']);

    await emu.runCommand(cal, '/ticket close', { id: Number(id) }).reply();
    expect((await ticketRow(id)).status).toBe('closed');
    const before = await ticketRow(id);
    // The closed thread is locked; staff with Manage Threads can still write there.
    expect(() => emu.say(cal, thread, 'too late')).toThrow('is locked');
    emu.say(emu.user('mod', { admin: true }), thread, 'after close');
    const other = await openTicket(cal, 'Barrier');
    emu.say(cal, other.thread, 'barrier');
    await waitForMessages(other.id, 1);
    expect(await bodies(id)).toEqual(['only once please', 'second']);
    expect(await ticketRow(id)).toEqual(before);
  });
  it('edits and deletes in the thread reach the transcript: the latest text, the first one kept, deletions marked', async () => {
    const eve = emu.user('eve');
    const sam = emu.user('sam', { roles: [staffRole] });
    const { id, thread } = await openTicket(eve, 'Edits and deletes');
    emu.joinThread(sam, thread);
    // One at a time: handlers run concurrently, so messages said at once may be transcribed in any order.
    const typo = emu.say(eve, thread, 'my adress is wrong');
    await waitForMessages(id, 1);
    const secret = emu.say(eve, thread, 'never mind, found it');
    await waitForMessages(id, 2);
    const staff = emu.say(sam, thread, 'Looking into it.');
    await waitForMessages(id, 3);
    const stored = () => t.db.selectFrom('ticket_messages').select(['external_id', 'body', 'original_body', 'edited_at', 'deleted_at']).where('ticket_id', '=', BigInt(id)).orderBy('id').execute();

    emu.editMessage(typo, 'my address is wrong');
    emu.deleteMessage(secret);
    // An update that changes no text (Discord sends them when an embed resolves) is no edit.
    emu.editMessage(staff, 'Looking into it.');
    await vi.waitFor(async () => expect((await stored()).filter((m) => m.edited_at || m.deleted_at)).toHaveLength(2), { timeout: 10_000, interval: 20 });
    expect(await stored()).toEqual([
      { external_id: typo.id, body: 'my address is wrong', original_body: 'my adress is wrong', edited_at: expect.any(Date), deleted_at: null },
      { external_id: secret.id, body: 'never mind, found it', original_body: null, edited_at: null, deleted_at: expect.any(Date) },
      { external_id: staff.id, body: 'Looking into it.', original_body: null, edited_at: null, deleted_at: null },
    ]);
    // A second edit keeps the text as first written.
    emu.editMessage(typo, 'my address is wrong (fixed twice)');
    await vi.waitFor(async () => expect((await stored())[0]!.body).toBe('my address is wrong (fixed twice)'), { timeout: 10_000, interval: 20 });
    expect((await stored())[0]!.original_body).toBe('my adress is wrong');

    const transcript = (await emu.runCommand(sam, '/ticket transcript', { id: Number(id) }).reply()).files[0]!.data.toString();
    expect(transcript).toMatch(/\*\*eve\*\* \(<@\d+>\) · [\d-]+ [\d:]+ UTC · ✏️ edited [\d-]+ [\d:]+ UTC\n\nmy address is wrong \(fixed twice\)\n\n_First written:_\n\n> my adress is wrong\n/);
    expect(transcript).toMatch(/ · 🗑️ deleted [\d-]+ [\d:]+ UTC\n\nnever mind, found it\n/);
    expect(transcript).not.toMatch(/Looking into it\.[\s\S]*edited/);
  });
});
