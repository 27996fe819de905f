import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../../app-context';
import { startDiscordEmulator, type DiscordEmulator, type EmuChannel, type EmuMessage, type EmuRole, type EmuUser } from '../../emulators/discord';
import type { EmuGuild } from '../../emulators/discord/discord-state';
import { renderMessage } from '../../emulators/discord/render-message';
import { failOnEmulatorGaps } from '../../emulators/discord/vitest-helpers';
import { startTestApp, type TestApp } from '../../testing/test-app';
import type { TestDatabase } from '../../testing/test-db';

// Two servers share one bot: guild A and guild B each configure their own support channel and staff role. Guild B's
// owner (Manage Server there) must get no bot-wide power and no view into guild A.

const TOKEN = 'admin-token-for-guilds-tests-00001';
const SOL = 1_000_000_000n;
const REFUSED = '❌ This is for bot operators only.';

let t: TestDatabase;
let ctx: AppContext;
let emu: DiscordEmulator;
let bot: TestApp;
let http: FastifyInstance;
let guildA: EmuGuild;
let guildB: EmuGuild;
let supportA: EmuChannel;
let supportB: EmuChannel;
let staffRoleA: EmuRole;
let staffRoleB: EmuRole;
let ownerA: EmuUser;
let ownerB: EmuUser;
let operator: EmuUser;

beforeAll(async () => {
  emu = await startDiscordEmulator({ guildName: 'Guild A' });
  guildA = emu.guild;
  guildB = emu.addGuild('Guild B');
  supportA = emu.channel('support-a');
  staffRoleA = emu.role('Staff A');
  ownerA = emu.user('owner-a', { admin: true });
  operator = emu.user('operator');
  emu.inGuild(guildB, () => {
    supportB = emu.channel('support-b');
    staffRoleB = emu.role('Staff B');
    ownerB = emu.user('owner-b', { admin: true });
  });
  // The real app (the same startApp `npm start` uses): operators come from BOT_OPERATOR_IDS at start.
  bot = await startTestApp({ emu, env: { ADMIN_TOKEN: TOKEN, TICKETS_OPEN_COOLDOWN_SECONDS: '0', BOT_OPERATOR_IDS: operator.id } });
  ({ t, ctx } = bot);
  http = bot.app.http;
});

afterAll(async () => {
  await bot?.close();
  await emu?.close();
});

failOnEmulatorGaps(() => emu);

const auth = { authorization: `Bearer ${TOKEN}` };
const inB = <T>(fn: () => T): T => emu.inGuild(guildB, fn);
const auditCount = async () => Number((await t.db.selectFrom('audit_events').select((eb) => eb.fn.countAll<bigint>().as('n')).executeTakeFirstOrThrow()).n);
const settingsRow = (guildId: string) => t.db.selectFrom('guild_settings').selectAll().where('guild_id', '=', guildId).executeTakeFirst();

async function openTicket(user: EmuUser, subject: string, category = 'billing', guild: EmuGuild = guildA) {
  return emu.inGuild(guild, async () => {
    const shown = emu.runCommand(user, '/ticket open', { category });
    const modal = await shown.modal();
    const reply = await emu.inGuild(guild, () => emu.submitModal(user, shown, modal.custom_id, { subject, description: 'help please' })).reply();
    const m = /Ticket \*\*#(\d+)\*\* opened: <#(\d+)>/.exec(reply.content);
    if (!m) throw new Error(`unexpected reply: ${reply.content}`);
    return { id: m[1]!, thread: emu.channels.get(m[2]!)! };
  });
}

/** A withdrawal waiting for review (the chain side is not needed to review it). */
async function requestedWithdrawal(member: EmuUser, key: string): Promise<bigint> {
  const user = await ctx.services.users.ensure(member.id, member.username);
  const row = await t.db
    .insertInto('withdrawals')
    .values({ user_id: user.id, currency: 'SOL', amount: 20n * SOL, destination: '11111111111111111111111111111111', status: 'requested', idempotency_key: key })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

describe('per-guild settings with /setup', () => {
  it('each guild sets its own channel and staff role; ids from the other guild or that do not exist are refused and nothing is saved', async () => {
    const before = await auditCount();
    const foreign = await emu.runCommand(ownerA, '/setup tickets', { channel: supportB }).reply();
    expect(foreign.content).toBe(`❌ Channel ${supportB.id} does not exist in this server; nothing was saved.`);
    const foreignRole = await emu.runCommand(ownerA, '/setup tickets', { channel: supportA, 'staff-role': staffRoleB }).reply();
    expect(foreignRole.content).toBe(`❌ Role ${staffRoleB.id} does not exist in this server; nothing was saved.`);
    const badCategory = await emu.runCommand(ownerA, '/setup tickets', { channel: supportA, categories: 'billing,Bad Name!' }).reply();
    expect(badCategory.content).toBe('❌ Category "bad name!" must be 1-32 of a-z 0-9 _ -.');
    expect(await settingsRow(guildA.id)).toBeUndefined();
    expect(await auditCount()).toBe(before);

    // The staff role can read the settings but not change them (that takes Manage Server).
    const staffer = emu.user('staffer-a', { roles: [staffRoleA] });
    const ok = await emu.runCommand(ownerA, '/setup tickets', { channel: supportA, 'staff-role': staffRoleA, categories: 'billing,bug' }).reply();
    expect(ok.content).toBe('✅ Saved — it applies from now on.');
    expect((await emu.runCommand(staffer, '/setup tickets', { 'max-open': 9 }).reply()).content).toBe('❌ Changing server settings needs Manage Server.');
    expect(renderMessage(await emu.runCommand(staffer, '/setup show').reply())).toContain(`<#${supportA.id}>`);
    expect((await emu.runCommand(emu.user('nobody-a'), '/setup show').reply()).content).toBe("❌ This needs Manage Server or this server's staff role.");

    const okB = await inB(() => emu.runCommand(ownerB, '/setup tickets', { channel: supportB, 'staff-role': staffRoleB, categories: 'general' })).reply();
    expect(okB.content).toBe('✅ Saved — it applies from now on.');
    expect(await settingsRow(guildA.id)).toMatchObject({ support_channel_id: supportA.id, staff_role_id: staffRoleA.id, ticket_categories: ['billing', 'bug'] });
    expect(await settingsRow(guildB.id)).toMatchObject({ support_channel_id: supportB.id, staff_role_id: staffRoleB.id, ticket_categories: ['general'] });
    const showB = renderMessage(await inB(() => emu.runCommand(ownerB, '/setup show')).reply());
    expect(showB).toContain(`<#${supportB.id}>`);
    expect(showB).not.toContain(supportA.id);
  });

  it('tickets open in each guild’s own support channel, and a /setup change applies to the next ticket without a restart', async () => {
    const alice = emu.user('alice');
    const a = await openTicket(alice, 'Guild A problem');
    expect(a.thread.parentId).toBe(supportA.id);
    const bruno = inB(() => emu.user('bruno'));
    const b = await openTicket(bruno, 'Guild B problem', 'general', guildB);
    expect(b.thread.parentId).toBe(supportB.id);
    // The staff ping names each guild's own role.
    expect(emu.channelMessages(b.thread)[0]!.content).toMatch(new RegExp(`^<@&${staffRoleB.id}> New \\*\\*general\\*\\* ticket`));

    const refunds = await emu.runCommand(alice, '/ticket open', { category: 'refunds' }).reply();
    expect(refunds.content).toBe('❌ Unknown category "refunds". Choose one of: billing, bug.');
    await emu.runCommand(ownerA, '/setup tickets', { categories: 'billing,refunds' }).reply();
    const c = await openTicket(alice, 'Refund please', 'refunds');
    expect(c.thread.parentId).toBe(supportA.id);
    // Guild B kept its own categories.
    expect((await inB(() => emu.runCommand(bruno, '/ticket open', { category: 'refunds' })).reply()).content).toBe(
      '❌ Unknown category "refunds". Choose one of: general.',
    );
  });

  it('GET/PATCH /admin/guilds/:id validates ids against that guild through Discord', async () => {
    const get = await http.inject({ method: 'GET', url: `/admin/guilds/${guildB.id}`, headers: auth });
    expect(get.statusCode).toBe(200);
    expect(get.json()).toMatchObject({ guildId: guildB.id, supportChannelId: supportB.id, staffRoleId: staffRoleB.id, tickets: { categories: ['general'] } });
    const patch = (id: string, payload: object) => http.inject({ method: 'PATCH', url: `/admin/guilds/${id}`, headers: auth, payload });
    const foreign = await patch(guildB.id, { logChannelId: supportA.id });
    expect(foreign.statusCode).toBe(422);
    expect(foreign.json()).toMatchObject({ error: 'guild_bad_channel' });
    expect((await patch(guildB.id, { staffRoleId: '123456789012345678' })).statusCode).toBe(422);
    expect((await patch(guildB.id, { maxOpenTickets: 0 })).statusCode).toBe(400);
    expect((await patch(guildB.id, { bogus: 1 })).statusCode).toBe(400);
    expect((await patch('999999999999999999', { maxOpenTickets: 2 })).json()).toMatchObject({ error: 'guild_unknown' });
    expect((await settingsRow(guildB.id))?.log_channel_id).toBeNull();
    const ok = await patch(guildB.id, { logChannelId: supportB.id, maxOpenTickets: 2 });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ logChannelId: supportB.id, tickets: { maxOpenPerUser: 2 } });
    // null goes back to the default.
    expect((await patch(guildB.id, { maxOpenTickets: null })).json()).toMatchObject({ tickets: { maxOpenPerUser: ctx.config.TICKETS_MAX_OPEN_PER_USER } });
  });
});

describe('guild B’s owner against guild A and the bot', () => {
  it('is refused every operator command and every operator button, with forged custom ids; nothing changes', async () => {
    const victim = emu.user('victim');
    const withdrawalId = await requestedWithdrawal(victim, 'forged-buttons');
    const auditBefore = await auditCount();
    const journalBefore = await t.db.selectFrom('journal').select('id').execute();

    // Every operator command, with valid options: the refusal must come from authority, not from bad input.
    const commandOptions: Record<string, [string, Record<string, string | EmuUser>]> = {
      admin: ['/admin credit', { user: ownerB, amount: '1000000' }],
      withdrawals: ['/withdrawals review', {}],
    };
    const operatorCommands = [...bot.app.discord!.registry.commands.values()].filter((c) => c.requires === 'operator').map((c) => c.name).sort();
    expect(operatorCommands).toEqual(Object.keys(commandOptions).sort());
    for (const [command, options] of Object.values(commandOptions)) {
      expect((await inB(() => emu.runCommand(ownerB, command, options)).reply()).content).toBe(REFUSED);
    }

    // Every operator button, pressed on a message in guild B with a custom id the message never carried.
    const anyMessage: EmuMessage = await inB(() => emu.runCommand(ownerB, '/setup show')).reply();
    const operatorButtons = [...bot.app.discord!.registry.components.values()].filter((h) => h.requires === 'operator').map((h) => h.action).sort();
    expect(operatorButtons).toEqual(['withdraw-approve', 'withdraw-reject']);
    for (const action of operatorButtons) {
      const r = await inB(() => emu.forgeClick(ownerB, anyMessage, `${action}:${withdrawalId}`)).reply();
      expect(r.content).toBe(REFUSED);
    }

    expect(await t.db.selectFrom('withdrawals').select(['status', 'approved_by']).where('id', '=', withdrawalId).executeTakeFirstOrThrow()).toEqual({
      status: 'requested',
      approved_by: null,
    });
    expect(await ctx.services.ledger.balance(ownerB.id, 'SOL')).toBe(0n);
    expect(await t.db.selectFrom('journal').select('id').execute()).toEqual(journalBefore);
    expect(await auditCount()).toBe(auditBefore);
  });

  it('guild staff see and act on only their own guild’s tickets; /audit shows only their guild', async () => {
    const carol = emu.user('carol');
    const ticketA = await openTicket(carol, 'Only A staff may see this');
    const dora = inB(() => emu.user('dora'));
    const ticketB = await openTicket(dora, 'Guild B ticket', 'general', guildB);
    const staffB = inB(() => emu.user('staff-b', { roles: [staffRoleB] }));
    const staffA = emu.user('staff-a', { roles: [staffRoleA] });

    const listB = renderMessage(await inB(() => emu.runCommand(staffB, '/ticket list')).reply());
    expect(listB).toContain('Guild B ticket');
    expect(listB).not.toContain('Only A staff');
    const listOwnerB = renderMessage(await inB(() => emu.runCommand(ownerB, '/ticket list')).reply());
    expect(listOwnerB).not.toContain('Only A staff');
    const listA = renderMessage(await emu.runCommand(staffA, '/ticket list').reply());
    expect(listA).toContain('Only A staff');
    expect(listA).not.toContain('Guild B ticket');

    const other = `❌ Ticket #${ticketA.id} belongs to another server — staff act only on their own server's tickets.`;
    for (const sub of ['claim', 'transcript', 'note', 'close'] as const) {
      expect((await inB(() => emu.runCommand(ownerB, `/ticket ${sub}`, { id: Number(ticketA.id) })).reply()).content).toBe(other);
    }
    const anyMessage = await inB(() => emu.runCommand(ownerB, '/setup show')).reply();
    for (const forged of [`ticket-claim:${ticketA.id}`, `ticket-close:${ticketA.id}`, `ticket-request-close:${ticketA.id}`]) {
      expect((await inB(() => emu.forgeClick(staffB, anyMessage, forged)).reply()).content).toBe(other);
    }
    expect(await t.db.selectFrom('tickets').select(['status', 'claimed_by']).where('id', '=', BigInt(ticketA.id)).executeTakeFirstOrThrow()).toEqual({
      status: 'open',
      claimed_by: null,
    });

    // Staff B claims their own ticket; the audit shows it to guild B, not guild A's settings change or the bot-wide log.
    await inB(() => emu.runCommand(staffB, '/ticket claim', { id: Number(ticketB.id) })).reply();
    const auditB = renderMessage(await inB(() => emu.runCommand(staffB, '/audit')).reply());
    expect(auditB).toContain('Audit log — this server');
    expect(auditB).toContain(`ticket:${ticketB.id}`);
    expect(auditB).not.toContain(`guild:${guildA.id}`);
    const auditAsksForA = renderMessage(await inB(() => emu.runCommand(staffB, '/audit', { user: ownerA })).reply());
    expect(auditAsksForA).toContain('No events match.');
    const auditOperator = renderMessage(await emu.runCommand(operator, '/audit').reply());
    expect(auditOperator).toContain('Audit log — all servers');
    expect(auditOperator).toContain(`guild:${guildA.id}`);
    expect((await emu.runCommand(emu.user('member-a'), '/audit').reply()).content).toBe("❌ The audit log is for bot operators and this server's staff.");
  });
});

describe('audit log', () => {
  it('every privileged action leaves exactly one audit row, in its own transaction', async () => {
    const erin = emu.user('erin');
    const staffA = emu.user('staff-a', { roles: [staffRoleA] });
    const { id } = await openTicket(erin, 'Audit me');
    const ticketId = Number(id);
    const toApprove = await requestedWithdrawal(erin, 'audit-approve');
    const toReject = await requestedWithdrawal(erin, 'audit-reject');
    const review = await emu.runCommand(operator, '/withdrawals review').reply();

    const actions: Array<[string, () => Promise<unknown>]> = [
      ['ledger.admin_credit', () => emu.runCommand(operator, '/admin credit', { user: erin, amount: '5', reason: 'goodwill' }).reply()],
      ['withdrawal.approve', () => emu.click(operator, review, `withdraw-approve:${toApprove}`).reply()],
      ['withdrawal.reject', () => emu.click(operator, review, `withdraw-reject:${toReject}`).reply()],
      ['guild.settings', () => emu.runCommand(ownerA, '/setup log-channel', { channel: supportA }).reply()],
      ['ticket.claim', () => emu.runCommand(staffA, '/ticket claim', { id: ticketId }).reply()],
      ['ticket.priority', () => emu.runCommand(staffA, '/ticket priority', { id: ticketId, level: 'urgent' }).reply()],
      [
        'ticket.note',
        async () => {
          const shown = emu.runCommand(staffA, '/ticket note', { id: ticketId });
          const modal = await shown.modal();
          return emu.submitModal(staffA, shown, modal.custom_id, { text: 'checked the chain' }).reply();
        },
      ],
      ['ticket.unclaim', () => emu.runCommand(staffA, '/ticket unclaim', { id: ticketId }).reply()],
      ['ticket.update', () => http.inject({ method: 'PATCH', url: `/admin/tickets/${id}`, headers: auth, payload: { priority: 'low' } })],
      ['user.role', () => http.inject({ method: 'PUT', url: `/admin/users/${erin.id}/role`, headers: auth, payload: { role: 'operator', reason: 'on call' } })],
      ['user.block', () => emu.runCommand(operator, '/admin block', { user: erin, reason: 'chargeback' }).reply()],
      ['user.unblock', () => http.inject({ method: 'POST', url: `/admin/users/${erin.id}/unblock`, headers: auth })],
      ['ticket.close', () => emu.runCommand(staffA, '/ticket close', { id: ticketId, reason: 'solved' }).reply()],
      // Memberships: guild staff manage their plans, coupons and invites; operators (or the owner) refund; the admin API.
      ['billing.plan_create', () => emu.runCommand(ownerA, '/plan create', { code: 'gold', name: 'Gold', role: emu.role('Gold A'), price: '1' }).reply()],
      ['billing.plan_edit', () => emu.runCommand(staffA, '/plan edit', { plan: 'gold', price: '10', cycle: 'year' }).reply()],
      ['billing.coupon_create', () => emu.runCommand(staffA, '/coupon create', { code: 'GOLD10', percent: 10 }).reply()],
      ['billing.invite', () => emu.runCommand(staffA, '/invite', { user: erin, plan: 'gold' }).reply()],
      [
        'billing.subscription_suspend',
        async () => {
          const { invoice } = await ctx.services.billing.subscribe({ interactionId: 'audit-sub', guildId: guildA.id, user: { discordId: erin.id, username: 'erin' }, plan: 'gold', cycle: 'month' });
          const { subscription } = await ctx.services.billing.payFromBalance(invoice.id, { discordId: erin.id, username: 'erin' });
          return http.inject({ method: 'POST', url: `/admin/subscriptions/${subscription!.id}/suspend`, headers: auth, payload: { reason: 'chargeback' } });
        },
      ],
      [
        'billing.invoice_refund',
        async () => {
          const [invoice] = await ctx.services.billing.memberInvoices(erin.id, { guildId: guildA.id });
          return emu.runCommand(operator, '/billing refund', { invoice: String(invoice!.id), reason: 'goodwill' }).reply();
        },
      ],
      ['billing.plan_archive', () => emu.runCommand(ownerA, '/plan archive', { plan: 'gold' }).reply()],
    ];
    for (const [action, run] of actions) {
      const before = await t.db.selectFrom('audit_events').select('id').orderBy('id', 'desc').limit(1).executeTakeFirst();
      await run();
      const rows = await t.db.selectFrom('audit_events').selectAll().where('id', '>', before?.id ?? 0n).execute();
      expect(rows.map((r) => r.action), action).toEqual([action]);
    }
    const rows = await t.db.selectFrom('audit_events').selectAll().where('action', 'in', ['ledger.admin_credit', 'withdrawal.approve', 'ticket.close', 'user.role']).orderBy('id').execute();
    expect(rows.find((r) => r.action === 'ledger.admin_credit')).toMatchObject({ actor_discord_id: operator.id, via: 'discord', guild_id: guildA.id, target: `user:${erin.id}`, reason: 'goodwill' });
    expect(rows.find((r) => r.action === 'withdrawal.approve')).toMatchObject({ actor_discord_id: operator.id, target: `withdrawal:${toApprove}`, before: { status: 'requested' } });
    expect(rows.findLast((r) => r.action === 'ticket.close')).toMatchObject({ actor_discord_id: staffA.id, guild_id: guildA.id, reason: 'solved', after: { status: 'closed' } });
    expect(rows.findLast((r) => r.action === 'user.role')).toMatchObject({ actor_discord_id: null, via: 'admin-api', before: { role: 'USER' }, after: { role: 'ADMIN' } });
    const blocks = await t.db.selectFrom('audit_events').selectAll().where('action', 'in', ['user.block', 'user.unblock']).orderBy('id').execute();
    expect(blocks).toEqual([
      expect.objectContaining({ action: 'user.block', actor_discord_id: operator.id, via: 'discord', guild_id: guildA.id, target: `user:${erin.id}`, before: { blocked: false, reason: null }, after: { blocked: true, reason: 'chargeback' }, reason: 'chargeback' }),
      expect.objectContaining({ action: 'user.unblock', actor_discord_id: null, via: 'admin-api', before: { blocked: true, reason: 'chargeback' }, after: { blocked: false, reason: null } }),
    ]);

    // Not privileged: a member acting on their own ticket, a replayed role change.
    const quiet = await auditCount();
    const own = await openTicket(erin, 'Mine to close');
    await emu.runCommand(erin, '/ticket close', { id: Number(own.id) }).reply();
    await http.inject({ method: 'PUT', url: `/admin/users/${erin.id}/role`, headers: auth, payload: { role: 'operator' } });
    await http.inject({ method: 'POST', url: `/admin/users/${erin.id}/unblock`, headers: auth });
    expect(await auditCount()).toBe(quiet);
  });

  it('is append-only, and GET /admin/audit filters and pages newest first', async () => {
    await expect(t.db.updateTable('audit_events').set({ reason: 'rewritten' }).execute()).rejects.toThrow(/append-only/);
    await expect(t.db.deleteFrom('audit_events').execute()).rejects.toThrow(/append-only/);

    const page1 = await http.inject({ method: 'GET', url: `/admin/audit?guild=${guildA.id}&limit=2`, headers: auth });
    expect(page1.statusCode).toBe(200);
    const body1 = page1.json<{ items: Array<{ id: string; guildId: string }>; nextCursor: string }>();
    expect(body1.items).toHaveLength(2);
    expect(body1.items.every((e) => e.guildId === guildA.id)).toBe(true);
    const page2 = (await http.inject({ method: 'GET', url: `/admin/audit?guild=${guildA.id}&limit=2&cursor=${body1.nextCursor}`, headers: auth })).json<{ items: Array<{ id: string }> }>();
    expect(BigInt(page2.items[0]!.id)).toBeLessThan(BigInt(body1.items[1]!.id));
    const credits = (await http.inject({ method: 'GET', url: '/admin/audit?action=ledger.admin_credit', headers: auth })).json<{ items: Array<{ action: string }> }>();
    expect(credits.items.map((e) => e.action)).toEqual(['ledger.admin_credit']);
    expect((await http.inject({ method: 'GET', url: '/admin/audit?action=DROP%20TABLE', headers: auth })).statusCode).toBe(400);
    expect((await http.inject({ method: 'GET', url: '/admin/audit', headers: {} })).statusCode).toBe(401);
  });
});
