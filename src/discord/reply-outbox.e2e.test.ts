import { MessageFlags, SlashCommandBuilder } from 'discord.js';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failOnEmulatorGaps } from '../emulators/discord/vitest-helpers';
import { createLogger } from '../logger';
import { startTestApp, type TestApp } from '../testing/test-app';
import type { Command } from './command';
import { INTERRUPTED_TEXT, createReplyOutbox, type ReplyOutbox } from './reply-outbox';

// A process that deferred and then died is played by a handler that defers and never finishes; "another replica" is
// a second outbox on the same database, the way every replica runs one. (The chaos suite does it with real kills.)
const runs = new Map<string, number>();
let release: () => void = () => undefined;
const hang = new Promise<void>((resolve) => (release = resolve));

const stuck = (name: string, replayable: boolean, flaky = false): Command => ({
  data: new SlashCommandBuilder().setName(name).setDescription('defers, then its process "dies" the first time'),
  replayable,
  async execute(interaction) {
    const run = (runs.get(interaction.id) ?? 0) + 1;
    runs.set(interaction.id, run);
    await interaction.deferReply({ flags: MessageFlags.Ephemeral });
    if (run === 1) return hang;
    if (flaky && run === 2) throw new Error('Connection terminated unexpectedly');
    // A replayed handler answers as handlers do, with reply() too: the outbox turns it into the edit of the deferral.
    await interaction.reply({ content: `done on run ${run}`, flags: MessageFlags.Ephemeral });
  },
});

let bot: TestApp;
let other: ReplyOutbox;

beforeAll(async () => {
  bot = await startTestApp({
    extendRegistry: (registry) => {
      registry.addCommand(stuck('stuck-replayable', true), 'test');
      registry.addCommand(stuck('stuck-once', false), 'test');
      registry.addCommand(stuck('stuck-flaky', true, true), 'test');
    },
  });
  const runtime = bot.app.discord!;
  other = createReplyOutbox({ client: bot.client, db: bot.ctx.db, log: createLogger('silent'), registry: runtime.registry, recoverAfterSeconds: 0 });
  other.start((interaction) => runtime.router.replay(interaction), 3_600_000);
});

afterAll(async () => {
  release();
  await other?.stop();
  await bot?.close();
});
failOnEmulatorGaps(() => bot?.emu);

const outboxRows = () => bot.t.db.selectFrom('interaction_replies').select(['interaction_id', 'attempts']).execute();

async function deferredAndRecorded(id: string): Promise<void> {
  await expect.poll(async () => (await outboxRows()).map((r) => r.interaction_id)).toContain(id);
}

describe('reply outbox: a deferral its process left is answered by another replica', () => {
  it('a command idempotent per interaction runs again on the rebuilt interaction and answers in place of "thinking…"', async () => {
    const r = bot.emu.runCommand(bot.emu.user('alice'), '/stuck-replayable');
    await r.ack();
    expect(r.deferred).toBe(true);
    await deferredAndRecorded(r.id);

    expect(await other.recoverNow()).toBe(1);
    const reply = await r.reply();
    expect(reply.content).toBe('done on run 2');
    expect(reply.ephemeral).toBe(true);
    expect(runs.get(r.id)).toBe(2);
    expect(await outboxRows()).toEqual([]);
  });

  it('any other command is told it was interrupted, so the member checks before retrying', async () => {
    const r = bot.emu.runCommand(bot.emu.user('bob'), '/stuck-once');
    await r.ack();
    await deferredAndRecorded(r.id);

    expect(await other.recoverNow()).toBe(1);
    expect((await r.reply()).content).toBe(INTERRUPTED_TEXT);
    expect(runs.get(r.id)).toBe(1);
    expect(await outboxRows()).toEqual([]);
  });

  it('a replay that fails unexpectedly (the database restarting) says "interrupted, check", not "try again"', async () => {
    // The first run may have done the work before its process died: "something went wrong, try again" would have the
    // member do it twice (the fault suite saw a /withdraw paid out and answered that way).
    const r = bot.emu.runCommand(bot.emu.user('erin'), '/stuck-flaky');
    await r.ack();
    await deferredAndRecorded(r.id);
    await other.recoverNow();
    expect((await r.reply()).content).toBe(INTERRUPTED_TEXT);
    expect(runs.get(r.id)).toBe(2);
    expect(await outboxRows()).toEqual([]);
  });

  it('a deferral Discord refused as too late (it forgot the interaction) is dropped on the first look', async () => {
    const r = bot.emu.runCommand(bot.emu.user('dave'), '/ping');
    await r.reply();
    // What a deferral arriving after the 3 s window leaves when the database was down as it was refused: a row whose
    // token Discord no longer knows.
    await sql`insert into interaction_replies (interaction_id, application_id, token, payload, deferred_at)
      values ('990000000000000042', ${bot.emu.appId}, 'forgotten-token', ${JSON.stringify({ id: '990000000000000042', type: 2, data: { name: 'stuck-once', type: 1 } })}, now() - interval '1 minute')`.execute(bot.t.db);
    await other.recoverNow();
    // Gone after one pass, not after MAX_ATTEMPTS failed ones.
    expect(await outboxRows()).toEqual([]);
    // The one look it took: Discord's answer for a token it forgot.
    expect(bot.emu.failures.splice(0)).toEqual([expect.objectContaining({ method: 'GET', status: 404, reason: 'Unknown Webhook' })]);
  });

  it('a deferral answered by its own process leaves nothing behind, and the owner never recovers its own', async () => {
    const r = bot.emu.runCommand(bot.emu.user('carol'), '/ping');
    expect((await r.reply()).content).toMatch(/^🏓 Pong!/);
    await expect.poll(outboxRows).toEqual([]);

    const stuckHere = bot.emu.runCommand(bot.emu.user('carol'), '/stuck-once');
    await stuckHere.ack();
    await deferredAndRecorded(stuckHere.id);
    // The deferring process's own outbox skips what its handlers are still working on, however old.
    await sql`update interaction_replies set deferred_at = now() - interval '5 minutes'`.execute(bot.t.db);
    expect(await bot.app.discord!.outbox.recoverNow()).toBe(0);
    expect(stuckHere.messages).toEqual([]);
    expect(await other.recoverNow()).toBe(1);
    expect((await stuckHere.reply()).content).toBe(INTERRUPTED_TEXT);
  });
});
