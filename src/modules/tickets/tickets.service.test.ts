import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics } from '../../metrics';
import { createTestDatabase, type TestDatabase } from '../../testing/test-db';
import { UsersService } from '../users/users.service';
import { TicketsService, type TicketActor, type TicketPolicy } from './tickets.service';

let t: TestDatabase;
let users: UsersService;
let tickets: TicketsService;
let now = new Date('2026-11-23T10:00:00Z');
const metrics = createMetrics();
const advance = (ms: number) => (now = new Date(now.getTime() + ms));
const HOUR = 3_600_000;

const policy: TicketPolicy = { categories: ['general', 'billing', 'wallet', 'bug'], maxOpenPerUser: 3, openCooldownSeconds: 0, autoCloseHours: 48, warningHours: 12 };

let n = 0;
function member(name = `m${++n}`): TicketActor {
  return { discordId: `4000000000000${String(++n).padStart(5, '0')}`, username: name, guildId: GUILD, isStaff: false };
}
const GUILD = '600000000000000001';
const staff: TicketActor = { discordId: '500000000000000001', username: 'sam', guildId: GUILD, isStaff: true };
const staff2: TicketActor = { discordId: '500000000000000002', username: 'sue', guildId: GUILD, isStaff: true };

async function openFor(who: TicketActor, extra: Partial<Parameters<TicketsService['open']>[0]> = {}) {
  const { ticket } = await tickets.open(
    { opener: who, guildId: GUILD, category: 'wallet', priority: 'high', subject: 'Deposit missing', description: 'I sent 1 SOL an hour ago', ...extra },
    policy,
  );
  return ticket;
}

const count = async (table: 'tickets' | 'ticket_messages') =>
  Number((await t.db.selectFrom(table).select((eb) => eb.fn.countAll<bigint>().as('n')).executeTakeFirstOrThrow()).n);

async function slaSums() {
  const value = async (h: typeof metrics.ticketResolutionSeconds, name: string) =>
    (await h.get()).values.find((v) => v.metricName === name && v.labels.priority === 'high')?.value ?? 0;
  return {
    resolution: await value(metrics.ticketResolutionSeconds, 'solbound_ticket_resolution_seconds_sum'),
    resolutionCount: await value(metrics.ticketResolutionSeconds, 'solbound_ticket_resolution_seconds_count'),
    firstResponse: await value(metrics.ticketFirstResponseSeconds, 'solbound_ticket_first_response_seconds_sum'),
  };
}

beforeAll(async () => {
  t = await createTestDatabase();
  users = new UsersService(t.db);
  tickets = new TicketsService(t.db, users, metrics, () => now);
});
afterAll(() => t.drop());

describe('opening', () => {
  it('creates an open ticket with normalised fields and the opener as user', async () => {
    const alice = member('alice');
    const ticket = await openFor(alice, { subject: '  Deposit missing  ', category: 'Wallet', priority: undefined });
    expect(ticket).toMatchObject({ status: 'open', priority: 'normal', category: 'wallet', subject: 'Deposit missing', discord_id: alice.discordId, thread_id: null });
    expect(ticket.last_activity_at).toEqual(now);
    const withThread = await tickets.attachThread(ticket.id, '700000000000000001', '700000000000000002');
    expect(await tickets.findByThread('700000000000000001')).toMatchObject({ id: withThread.id, opening_message_id: '700000000000000002' });
  });

  it('rejects bad input with a specific error and writes nothing', async () => {
    const bob = member('bob');
    const before = await count('tickets');
    await expect(openFor(bob, { subject: '   ' })).rejects.toMatchObject({ code: 'TICKET_INVALID', message: 'The subject cannot be empty.' });
    await expect(openFor(bob, { subject: 'x'.repeat(101) })).rejects.toThrow('The subject is too long (101 characters; at most 100).');
    await expect(openFor(bob, { description: 'y'.repeat(2001) })).rejects.toThrow(/description is too long/);
    await expect(openFor(bob, { category: 'refunds' })).rejects.toThrow('Unknown category "refunds". Choose one of: general, billing, wallet, bug.');
    await expect(openFor(bob, { priority: 'asap' })).rejects.toMatchObject({ code: 'TICKET_BAD_PRIORITY' });
    expect(await count('tickets')).toBe(before);
    expect(await users.findByDiscordId(bob.discordId)).toBeUndefined();
  });

  it('enforces the per-user open limit, also under concurrency', async () => {
    const carol = member('carol');
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => openFor(carol)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(rejected.map((r) => (r.reason as Error).message)).toEqual(
      Array(3).fill('You already have 3 open tickets (the limit is 3). Close one before opening another.'),
    );
    await expect(tickets.checkCanOpen(carol.discordId, policy)).rejects.toMatchObject({ code: 'TICKET_LIMIT' });
    // Closing one frees a slot.
    const page = await tickets.list(carol);
    await tickets.close(page.items[0]!.id, carol, 'solved myself');
    await expect(tickets.checkCanOpen(carol.discordId, policy)).resolves.toBeUndefined();
  });

  it('enforces the open cooldown', async () => {
    const dan = member('dan');
    const slow = { ...policy, openCooldownSeconds: 60 };
    await tickets.open({ opener: dan, guildId: null, category: undefined, priority: undefined, subject: 's', description: 'd' }, slow);
    advance(20_000);
    await expect(tickets.open({ opener: dan, guildId: null, category: undefined, priority: undefined, subject: 's', description: 'd' }, slow)).rejects.toThrow(
      'You opened a ticket just now — you can open another in 40 s.',
    );
    advance(40_000);
    await expect(tickets.checkCanOpen(dan.discordId, slow)).resolves.toBeUndefined();
  });

  it('a replayed interaction returns the first ticket', async () => {
    const erin = member('erin');
    const first = await tickets.open({ opener: erin, guildId: null, category: 'bug', priority: 'low', subject: 'a', description: 'b', sourceInteractionId: '800000000000000001' }, policy);
    const again = await tickets.open({ opener: erin, guildId: null, category: 'bug', priority: 'low', subject: 'a', description: 'b', sourceInteractionId: '800000000000000001' }, policy);
    expect(first.created).toBe(true);
    expect(again).toEqual({ ticket: first.ticket, created: false });
    const input = { opener: erin, guildId: null, category: 'bug', priority: 'low', subject: 'a', description: 'b', sourceInteractionId: '800000000000000002' };
    const racing = await Promise.all([tickets.open(input, policy), tickets.open(input, policy), tickets.open(input, policy)]);
    expect(new Set(racing.map((r) => r.ticket.id)).size).toBe(1);
    expect(racing.filter((r) => r.created)).toHaveLength(1);
  });
});

describe('lifecycle', () => {
  it('claim → note → reply → request close → member confirms → rate + feedback; transcript hides notes from members', async () => {
    const before = await slaSums();
    const frank = member('frank');
    const opened = await openFor(frank);
    advance(5 * 60_000);
    const claimed = await tickets.claim(opened.id, staff);
    expect(claimed).toMatchObject({ status: 'claimed', claimed_by_discord_id: staff.discordId, first_staff_reply_at: now });
    await expect(tickets.claim(opened.id, staff)).rejects.toThrow(`You already claimed ticket #${opened.id}.`);
    await expect(tickets.claim(opened.id, staff2)).rejects.toMatchObject({ code: 'TICKET_ALREADY_CLAIMED' });

    await tickets.addNote(opened.id, staff, 'user looks legit; check deposit watcher');
    await tickets.reply(opened.id, frank, 'any news?');
    await tickets.reply(opened.id, staff, 'found it, crediting now');
    await expect(tickets.link(opened.id, staff, 'tip 12')).rejects.toMatchObject({ code: 'TICKET_BAD_REF' });
    expect((await tickets.link(opened.id, staff, 'Withdrawal:42')).linked_ref).toBe('withdrawal:42');

    const pending = await tickets.requestClose(opened.id, staff);
    expect(pending.status).toBe('pending_close');
    await expect(tickets.answerCloseRequest(opened.id, staff2, true)).rejects.toThrow(/Only the member who opened/);
    advance(HOUR);
    const closed = await tickets.answerCloseRequest(opened.id, frank, true);
    expect(closed).toMatchObject({ status: 'closed', closed_by_discord_id: frank.discordId, close_reason: 'Confirmed by the member', closed_at: now });

    await expect(tickets.rate(opened.id, staff, 5)).rejects.toThrow(/Only the member who opened/);
    await expect(tickets.rate(opened.id, frank, 6)).rejects.toMatchObject({ code: 'TICKET_BAD_RATING' });
    await expect(tickets.feedback(opened.id, frank, 'great')).rejects.toThrow('Rate ticket');
    expect((await tickets.rate(opened.id, frank, 4)).rating).toBe(4);
    await expect(tickets.rate(opened.id, frank, 5)).rejects.toMatchObject({ code: 'TICKET_ALREADY_RATED' });
    expect((await tickets.feedback(opened.id, frank, 'quick and kind')).feedback).toBe('quick and kind');

    const forMember = await tickets.transcript(opened.id, frank);
    expect(forMember.entries.map((e) => [e.author_username, e.body])).toEqual([['frank', 'any news?'], ['sam', 'found it, crediting now']]);
    const forStaff = await tickets.transcript(opened.id, staff2);
    expect(forStaff.entries.map((e) => [e.body, e.is_staff_note])).toEqual([
      ['user looks legit; check deposit watcher', true],
      ['any news?', false],
      ['found it, crediting now', false],
    ]);

    const after = await slaSums();
    expect(after.resolution - before.resolution).toBe(5 * 60 + 3600);
    expect(after.resolutionCount - before.resolutionCount).toBe(1);
    expect(after.firstResponse - before.firstResponse).toBe(5 * 60);
  });

  it('members cannot act as staff or see others; closed tickets refuse changes and nothing changes', async () => {
    const gail = member('gail');
    const hank = member('hank');
    const ticket = await openFor(gail);
    await expect(tickets.claim(ticket.id, gail)).rejects.toThrow('Only support staff can claim tickets.');
    await expect(tickets.addNote(ticket.id, gail, 'x')).rejects.toMatchObject({ code: 'TICKET_STAFF_ONLY' });
    await expect(tickets.get(ticket.id, hank)).rejects.toThrow(`Ticket #${ticket.id} is not yours`);
    await expect(tickets.transcript(ticket.id, hank)).rejects.toMatchObject({ code: 'TICKET_FORBIDDEN' });
    await expect(tickets.close(ticket.id, hank, undefined)).rejects.toMatchObject({ code: 'TICKET_FORBIDDEN' });
    await expect(tickets.get('abc', gail)).rejects.toThrow('"abc" is not a ticket number');
    await expect(tickets.get('999999', staff)).rejects.toThrow('There is no ticket #999999.');

    await tickets.close(ticket.id, staff, 'duplicate of another ticket');
    const snapshot = await t.db.selectFrom('tickets').selectAll().where('id', '=', ticket.id).executeTakeFirstOrThrow();
    const messages = await count('ticket_messages');
    for (const attempt of [
      () => tickets.claim(ticket.id, staff),
      () => tickets.addNote(ticket.id, staff, 'late'),
      () => tickets.reply(ticket.id, gail, 'hello?'),
      () => tickets.setPriority(ticket.id, staff, 'urgent'),
      () => tickets.link(ticket.id, gail, 'tip:1'),
      () => tickets.requestClose(ticket.id, staff),
      () => tickets.close(ticket.id, staff, 'again'),
    ]) {
      await expect(attempt()).rejects.toMatchObject({ code: 'TICKET_CLOSED' });
    }
    expect(await t.db.selectFrom('tickets').selectAll().where('id', '=', ticket.id).executeTakeFirstOrThrow()).toEqual(snapshot);
    expect(await count('ticket_messages')).toBe(messages);
    await expect(tickets.transcript(ticket.id, gail)).resolves.toMatchObject({ includesNotes: false });
  });

  it('declining a close request returns the ticket to the queue; unclaim and priority work', async () => {
    const ivy = member('ivy');
    const ticket = await openFor(ivy);
    await tickets.claim(ticket.id, staff);
    await tickets.requestClose(ticket.id, staff);
    expect((await tickets.answerCloseRequest(ticket.id, ivy, false)).status).toBe('claimed');
    await expect(tickets.answerCloseRequest(ticket.id, ivy, false)).rejects.toThrow('has no pending close request');
    expect(await tickets.unclaim(ticket.id, staff2)).toMatchObject({ status: 'open', claimed_by: null });
    await expect(tickets.unclaim(ticket.id, staff2)).rejects.toMatchObject({ code: 'TICKET_NOT_CLAIMED' });
    expect((await tickets.setPriority(ticket.id, staff, 'urgent')).priority).toBe('urgent');
    await expect(tickets.setPriority(ticket.id, staff, 'urgent')).rejects.toMatchObject({ code: 'TICKET_UNCHANGED' });
  });

  it('records thread messages once per Discord message id', async () => {
    const jay = member('jay');
    const ticket = await openFor(jay);
    await tickets.attachThread(ticket.id, '700000000000000101', null);
    await tickets.recordThreadMessage('700000000000000101', jay, 'hello', '900000000000000001');
    await tickets.recordThreadMessage('700000000000000101', jay, 'hello', '900000000000000001');
    expect(await tickets.recordThreadMessage('700000000000000999', jay, 'elsewhere', '900000000000000002')).toBeUndefined();
    expect((await tickets.transcript(ticket.id, jay)).entries.map((e) => e.body)).toEqual(['hello']);
  });

  it('orders the transcript by when Discord says each message was posted, not by when it was recorded', async () => {
    const joy = member('joy');
    const ticket = await openFor(joy);
    await tickets.attachThread(ticket.id, '700000000000000102', null);
    // Discord ids as Discord makes them: milliseconds since 2015 above 22 bits of worker/sequence.
    const at = BigInt(Date.now()) - 1_420_070_400_000n;
    const id = (ms: bigint, seq = 0n) => ((ms << 22n) | seq).toString();
    // Handled out of order, as two gateway events a few milliseconds apart can be: the later one commits first.
    await tickets.recordThreadMessage('700000000000000102', joy, 'second', id(at + 3n));
    await tickets.recordThreadMessage('700000000000000102', joy, 'first', id(at + 1n));
    // Same millisecond: Discord's sequence bits decide.
    await tickets.recordThreadMessage('700000000000000102', joy, 'fourth', id(at + 5n, 2n));
    await tickets.recordThreadMessage('700000000000000102', joy, 'third', id(at + 5n, 1n));
    // A /ticket reply carries its interaction's id, a snowflake too.
    await tickets.reply(ticket.id, staff, 'staff in between', id(at + 2n));
    // A note without a Discord id goes by when it was recorded (now: after all of the above).
    await tickets.addNote(ticket.id, staff, 'note without an id');
    expect((await tickets.transcript(ticket.id, staff)).entries.map((e) => e.body)).toEqual(['first', 'staff in between', 'second', 'third', 'fourth', 'note without an id']);
  });
});

describe('listing', () => {
  it('members see only their own; staff filter by status/priority/mine; keyset paging', async () => {
    const kim = member('kim');
    const lee = member('lee');
    for (let i = 0; i < 3; i++) await openFor(kim, { priority: i === 0 ? 'urgent' : 'low' });
    await openFor(lee);
    const own = await tickets.list(kim);
    expect(own.items.every((x) => x.discord_id === kim.discordId)).toBe(true);
    expect(own.items).toHaveLength(3);

    const first = await tickets.list(kim, { limit: 2 });
    expect(first.items).toHaveLength(2);
    const second = await tickets.list(kim, { limit: 2, cursor: first.nextCursor! });
    expect(second).toMatchObject({ nextCursor: null });
    expect([...first.items, ...second.items].map((x) => x.id)).toEqual(own.items.map((x) => x.id));

    const urgent = await tickets.list(staff, { priority: 'urgent', status: 'open' });
    expect(urgent.items.length).toBeGreaterThanOrEqual(1);
    expect(urgent.items.every((x) => x.priority === 'urgent' && x.status === 'open')).toBe(true);
    const claimed = await tickets.claim(own.items[0]!.id, staff2);
    expect((await tickets.list(staff2, { mine: true })).items.map((x) => x.id)).toEqual([claimed.id]);
    await expect(tickets.list(staff, { status: 'done' })).rejects.toThrow('Unknown status "done"');
    await expect(tickets.adminList({ cursor: 'xyz' })).rejects.toMatchObject({ code: 'TICKET_BAD_CURSOR' });
    await expect(tickets.adminList({ limit: 0 })).rejects.toMatchObject({ code: 'TICKET_BAD_LIMIT' });
  });
});

describe('admin updates', () => {
  it('claims for a SUPPORT user, rejects others, closes', async () => {
    const mo = member('mo');
    const ticket = await openFor(mo);
    const sup = await users.ensure('500000000000000009', 'supporter');
    await users.setRole(sup.id, 'SUPPORT');
    await expect(tickets.adminUpdate(ticket.id, { claim: mo.discordId })).rejects.toMatchObject({ code: 'TICKET_BAD_CLAIMER' });
    expect(await tickets.adminUpdate(ticket.id, { claim: sup.discord_id, priority: 'urgent' })).toMatchObject({
      status: 'claimed',
      priority: 'urgent',
      claimed_by_discord_id: sup.discord_id,
    });
    expect(await tickets.adminUpdate(ticket.id, { claim: null })).toMatchObject({ status: 'open', claimed_by: null });
    await expect(tickets.adminUpdate(ticket.id, {})).rejects.toMatchObject({ code: 'TICKET_BAD_PATCH' });
    expect(await tickets.adminUpdate(ticket.id, { status: 'closed' })).toMatchObject({ status: 'closed', closed_by: null, close_reason: 'Closed via the admin API' });
    await expect(tickets.adminUpdate(ticket.id, { priority: 'low' })).rejects.toMatchObject({ code: 'TICKET_CLOSED' });
  });
});

describe('auto-close', () => {
  it('warns after (N − lead) hours of silence, closes N hours in; activity resets the clock', async () => {
    // Close everything older so only this test's tickets are due.
    await t.db.updateTable('tickets').set({ status: 'closed', closed_at: now, claimed_by: null }).where('status', '<>', 'closed').execute();
    const nia = member('nia');
    const quiet = await openFor(nia);
    const chatty = await openFor(nia);
    const warnings: string[] = [];
    const closedSeen: bigint[] = [];
    const effects = {
      warn: async (x: { id: bigint }, closesAt: Date) => void warnings.push(`${x.id}@${closesAt.toISOString()}`),
      closed: async (x: { id: bigint }) => void closedSeen.push(x.id),
    };

    advance(35 * HOUR);
    expect(await tickets.autoClose(policy, effects)).toEqual({ warned: [], closed: [], failed: [] });
    advance(2 * HOUR);
    const warnedAt = now;
    expect(await tickets.autoClose(policy, effects)).toEqual({ warned: [quiet.id, chatty.id], closed: [], failed: [] });
    expect(warnings).toEqual([quiet.id, chatty.id].map((id) => `${id}@${new Date(warnedAt.getTime() + 12 * HOUR).toISOString()}`));
    expect(await tickets.autoClose(policy, effects)).toEqual({ warned: [], closed: [], failed: [] });

    advance(HOUR);
    await tickets.reply(chatty.id, nia, 'still here!');
    expect((await tickets.get(chatty.id, nia)).warned_at).toBeNull();

    advance(11 * HOUR);
    expect(await tickets.autoClose(policy, effects)).toEqual({ warned: [], closed: [quiet.id], failed: [] });
    expect(closedSeen).toEqual([quiet.id]);
    expect(await tickets.get(quiet.id, nia)).toMatchObject({ status: 'closed', closed_by: null, close_reason: 'No activity for 48 h' });
    expect((await tickets.get(chatty.id, nia)).status).toBe('open');
  });
});

describe('interrupted opens', () => {
  it('a ticket left without its thread (its replica died mid-open) is removed after the grace; the rest stay', async () => {
    const fay = member('fay');
    const stranded = await openFor(fay);
    const done = await openFor(fay);
    await tickets.attachThread(done.id, '700000000000000301', null);
    advance(60_000);
    const young = await openFor(fay);
    expect(await tickets.abandonUnfinished(120)).not.toContain(stranded.id);
    advance(61_000);
    // (Other tests' thread-less tickets go too: this runs last.)
    const removed = await tickets.abandonUnfinished(120);
    expect(removed).toContain(stranded.id);
    expect(removed).not.toContain(done.id);
    expect(removed).not.toContain(young.id);
    const left = await t.db.selectFrom('tickets').select('id').where('discord_id', '=', fay.discordId).orderBy('id').execute();
    expect(left.map((r) => r.id)).toEqual([done.id, young.id]);
    // It no longer counts against the limit: fay may open another.
    expect((await openFor(fay)).status).toBe('open');
  });
});
