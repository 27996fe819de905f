import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { EMULATOR_STATS_ENV, startDiscordEmulator, type DiscordEmulator } from './discord-emulator';
import { LIMITS } from './rest/limits';
import { failOnEmulatorGaps } from './vitest-helpers';

// Discord answers over-limit bodies with 400 / 50035 and a nested errors object; these check the emulator does
// the same from its limits table, records spec violations as failures, and enforces the interaction deadlines.

let emu: DiscordEmulator;
let clockOffsetMs = 0;
let session: WebSocket | undefined;

beforeEach(async () => {
  clockOffsetMs = 0;
  emu = await startDiscordEmulator({ guildName: 'Strict Guild', now: () => Date.now() + clockOffsetMs });
});
afterEach(async () => {
  session?.close();
  session = undefined;
  await emu.close();
});
failOnEmulatorGaps(() => emu);

const json = { 'content-type': 'application/json' };
const api = (path: string, init: RequestInit = {}) =>
  fetch(`${emu.apiUrl}/v10${path}`, { ...init, headers: { authorization: `Bot ${emu.token}`, ...json, ...(init.headers ?? {}) } });
const post = (path: string, body: unknown, method = 'POST') => api(path, { method, body: JSON.stringify(body) });

async function invalidFormBody(res: Response): Promise<unknown> {
  expect(res.status).toBe(400);
  const body = (await res.json()) as { code: number; message: string; errors: unknown };
  expect(body).toMatchObject({ code: 50035, message: 'Invalid Form Body' });
  return body.errors;
}

const maxLength = (n: number) => ({ _errors: [{ code: 'BASE_TYPE_MAX_LENGTH', message: `Must be ${n} or fewer in length.` }] });

/** A bot session on the gateway (interactions need one) and a registered /ping. */
async function connectBot(): Promise<void> {
  await post(`/applications/${emu.appId}/commands`, [{ name: 'ping', description: 'p' }], 'PUT');
  const ws = new WebSocket(`${emu.gatewayUrl}?v=10&encoding=json`);
  await new Promise((resolve) => ws.once('message', resolve)); // HELLO
  ws.send(JSON.stringify({ op: 2, d: { token: emu.token, intents: 1, properties: {} } }));
  session = ws;
  await emu.waitForBot();
}

describe('documented limits', () => {
  it('every row cites the documentation', () => {
    for (const row of LIMITS) expect(row.doc).toMatch(/^https:\/\/discord\.com\/developers\/docs\//);
  });

  it('answers 2,001 characters of content like Discord, and 2,000 pass', async () => {
    const channel = emu.channel('general');
    expect(await invalidFormBody(await post(`/channels/${channel.id}/messages`, { content: 'x'.repeat(2001) }))).toEqual({ content: maxLength(2000) });
    expect((await post(`/channels/${channel.id}/messages`, { content: 'x'.repeat(2000) })).status).toBe(200);
    // An ordinary Discord answer the bot has to handle, not an emulator gap.
    expect(emu.failures).toEqual([]);
  });

  it('nests embed and component errors by index, and checks the 6,000-character embed total', async () => {
    const channel = emu.channel('general');
    const errors = await invalidFormBody(
      await post(`/channels/${channel.id}/messages`, {
        embeds: [
          { title: 't'.repeat(257), fields: Array.from({ length: 26 }, (_, i) => ({ name: `f${i}`, value: 'v' })) },
          { description: 'd'.repeat(4096), footer: { text: 'f'.repeat(2049) } },
        ],
        components: [{ type: 1, components: [{ type: 2, style: 1, custom_id: 'c'.repeat(101), label: 'l'.repeat(81) }] }],
      }),
    );
    expect(errors).toEqual({
      embeds: {
        _errors: [{ code: 'MAX_EMBED_SIZE_EXCEEDED', message: 'Embed size exceeds maximum size of 6000' }],
        0: { title: maxLength(256), fields: maxLength(25) },
        1: { footer: { text: maxLength(2048) } },
      },
      components: {
        0: {
          components: {
            0: {
              custom_id: { _errors: [{ code: 'BASE_TYPE_BAD_LENGTH', message: 'Must be between 1 and 100 in length.' }] },
              label: maxLength(80),
            },
          },
        },
      },
    });
  });

  it('checks allowed_mentions', async () => {
    const channel = emu.channel('general');
    const errors = await invalidFormBody(await post(`/channels/${channel.id}/messages`, { content: 'hi', allowed_mentions: { parse: ['users'], users: ['1'] } }));
    expect(errors).toEqual({ allowed_mentions: { _errors: [expect.objectContaining({ code: 'MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE' })] } });
  });

  it('checks command names, descriptions and option counts at registration', async () => {
    const options = Array.from({ length: 26 }, (_, i) => ({ type: 3, name: `o${i}`, description: 'd' }));
    const errors = await invalidFormBody(
      await post(`/applications/${emu.appId}/commands`, [{ name: 'ok', description: 'fine' }, { name: 'Bad Name', description: '', options }], 'PUT'),
    );
    expect(errors).toEqual({
      1: {
        name: { _errors: [{ code: 'APPLICATION_COMMAND_INVALID_NAME', message: 'Command name is invalid' }] },
        description: { _errors: [{ code: 'BASE_TYPE_BAD_LENGTH', message: 'Must be between 1 and 100 in length.' }] },
        options: maxLength(25),
      },
    });
    expect(emu.globalCommands).toEqual([]);
  });

  it('checks interaction callbacks: message content, flags and modals', async () => {
    await connectBot();
    const user = emu.user('alice');
    const callback = (id: string, token: string, body: unknown) =>
      fetch(`${emu.apiUrl}/v10/interactions/${id}/${token}/callback`, { method: 'POST', headers: json, body: JSON.stringify(body) });

    const a = emu.runCommand(user, '/ping');
    expect(await invalidFormBody(await callback(a.id, a.token, { type: 4, data: { content: 'x'.repeat(2001), flags: 2 } }))).toEqual({
      data: { content: maxLength(2000), flags: { _errors: [expect.objectContaining({ code: 'INTERACTION_RESPONSE_FLAGS_INVALID' })] } },
    });
    expect(a.acked).toBe(false);

    const modal = { custom_id: 'm', title: 'T'.repeat(46), components: [{ type: 1, components: [{ type: 4, custom_id: 'v', style: 1, label: 'L'.repeat(46) }] }] };
    expect(await invalidFormBody(await callback(a.id, a.token, { type: 9, data: modal }))).toEqual({
      data: {
        title: { _errors: [{ code: 'BASE_TYPE_BAD_LENGTH', message: 'Must be between 1 and 45 in length.' }] },
        components: { 0: { components: { 0: { label: maxLength(45) } } } },
      },
    });
    expect((await callback(a.id, a.token, { type: 4, data: { content: 'pong', flags: 64 } })).status).toBe(204);
    expect(emu.failures).toEqual([]);
  });
});

describe('spec conformance', () => {
  it('records a body that breaks the request schema as a failure and counts checked traffic', async () => {
    const channel = emu.channel('general');
    const before = { ...emu.conformance };
    expect((await post(`/channels/${channel.id}/messages`, { content: 5 })).status).toBe(400);
    expect(emu.failures.splice(0)).toEqual([expect.objectContaining({ status: 400, reason: expect.stringMatching(/^spec: request body of create_message: \/content/) })]);
    expect((await post(`/channels/${channel.id}/messages`, { content: 'fine', unknown_field: true })).status).toBe(200);
    expect(emu.conformance.requests - before.requests).toBe(2);
    expect(emu.conformance.responses - before.responses).toBe(2);
    expect(emu.conformance.violations - before.violations).toBe(1);
    // The run summary counts violations in real traffic; this one was provoked on purpose, so it stays out of it.
    const statsFile = process.env[EMULATOR_STATS_ENV];
    delete process.env[EMULATOR_STATS_ENV];
    try {
      await emu.close();
    } finally {
      if (statsFile !== undefined) process.env[EMULATOR_STATS_ENV] = statsFile;
    }
  });
});

describe('interaction deadlines', () => {
  it('the interaction token expires after 15 minutes (50027), on the clock tests can advance', async () => {
    await connectBot();
    const r = emu.runCommand(emu.user('bob'), '/ping');
    const webhook = `/webhooks/${emu.appId}/${r.token}`;
    const callback = await fetch(`${emu.apiUrl}/v10/interactions/${r.id}/${r.token}/callback`, { method: 'POST', headers: json, body: JSON.stringify({ type: 5 }) });
    expect(callback.status).toBe(204);
    clockOffsetMs = 14 * 60_000;
    expect((await post(`${webhook}/messages/@original`, { content: 'still in time' }, 'PATCH')).status).toBe(200);
    clockOffsetMs = 15 * 60_000 + 1_000;
    const late = await post(webhook, { content: 'too late' });
    expect(late.status).toBe(401);
    expect(await late.json()).toEqual({ code: 50027, message: 'Invalid Webhook Token' });
  });
});
