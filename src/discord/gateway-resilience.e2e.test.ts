import { GatewayIntentBits } from 'discord.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDiscordEmulator } from '../emulators/discord';
import { failOnEmulatorGaps } from '../emulators/discord/vitest-helpers';
import { captureLogs } from '../testing/log-capture';
import { startTestApp, type TestApp } from '../testing/test-app';

// The real discord.js client against what Discord does to long-lived gateway connections: op 7 Reconnect, a zombied
// connection (heartbeats no longer acknowledged), and privileged intents it may not use (close 4014, fatal).

let bot: TestApp;
const logs = captureLogs('info');

beforeAll(async () => {
  // A short heartbeat so a zombied connection is noticed within a test.
  bot = await startTestApp({ emulator: { heartbeatIntervalMs: 250 }, log: logs.log });
});
afterAll(async () => {
  await bot?.close();
});
failOnEmulatorGaps(() => bot?.emu);

const answers = async () => (await bot.emu.runCommand(bot.emu.user('alice'), '/help').reply()).ephemeral;

describe('gateway resilience', () => {
  it('op 7 Reconnect: the client reconnects and RESUMEs (no new IDENTIFY), then still answers', async () => {
    const { identifies, resumes } = { ...bot.emu.gatewayStats };
    await bot.emu.gateway.requestReconnect();
    expect(bot.emu.gatewayStats).toMatchObject({ identifies, resumes: resumes + 1 });
    expect(await answers()).toBe(true);
  });

  it('a zombied connection (no HEARTBEAT_ACK) is dropped by the client, which RESUMEs on a new one', async () => {
    const { identifies, resumes } = { ...bot.emu.gatewayStats };
    await bot.emu.gateway.zombieConnection();
    expect(bot.emu.gatewayStats).toMatchObject({ identifies, resumes: resumes + 1 });
    expect(await answers()).toBe(true);
  });

  it('privileged intents switched off while running: the re-IDENTIFY is closed 4014 and logged as fatal with the fix', async () => {
    expect((await (await fetch(`${bot.app.httpUrl}/readyz`)).json()) as unknown).toMatchObject({ status: 'ready', checks: { discordGateway: 'ok' } });
    bot.emu.gateway.privilegedIntents = GatewayIntentBits.GuildMembers;
    bot.emu.invalidateSessions();
    await expect.poll(() => logs.lines.find((l) => l.code === 4014), { timeout: 15_000 }).toBeDefined();
    const line = logs.lines.find((l) => l.code === 4014)!;
    expect(line).toMatchObject({ level: 60, shardId: 0 });
    expect(line.msg).toContain('Discord closed gateway shard 0 for good: disallowed intents: enable "Server Members Intent" and "Message Content Intent"');
    // A shard that stays down serves nobody: the probe goes red with the reason instead of staying green.
    const res = await fetch(`${bot.app.httpUrl}/readyz`);
    expect(res.status).toBe(503);
    const body = (await res.json()) as { status: string; checks: Record<string, string> };
    expect(body.status).toBe('not_ready');
    expect(body.checks).toMatchObject({ database: 'ok', migrations: 'ok' });
    expect(body.checks.discordGateway).toMatch(/^shard 0 closed for good \(close code 4014\): disallowed intents: enable "Server Members Intent"/);
  });
});

describe('startup', () => {
  it('privileged intents not enabled for the app: the app does not start, and says which to enable', async () => {
    const emu = await startDiscordEmulator({ privilegedIntents: GatewayIntentBits.GuildMembers });
    try {
      await expect(startTestApp({ emu })).rejects.toThrow(
        /gateway refused shard 0 of 1 \(close code 4014\): disallowed intents: enable "Server Members Intent" and "Message Content Intent"/,
      );
    } finally {
      await emu.close();
    }
  });
});
