import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRegistry } from './discord/command-loader';
import { createRest, deployCommands } from './discord/deploy-commands';
import { shardOf, type EmuGuild, type EmuUser } from './emulators/discord';
import { startEmulators, type Emulators } from './sandbox/emulators';
import { spawnTsx, type Child } from './testing/child-process';
import { createTestDatabase, type TestDatabase } from './testing/test-db';

// Two bot processes on one database and one emulated Discord, splitting 4 gateway shards: the deployment the README's
// "Running several replicas" describes, with real processes (src/main.ts) so a kill is a real kill.
const SHARDS = 4;
let t: TestDatabase;
let emus: Emulators;
const replicas = new Map<string, Child>();

beforeAll(async () => {
  t = await createTestDatabase();
  // The first guild lands on whatever shard its id says; four more put one guild on every shard.
  emus = await startEmulators({ shards: SHARDS, extraGuilds: SHARDS });
  await deployCommands({ rest: createRest(emus.env.DISCORD_TOKEN!, emus.env.DISCORD_API_URL), appId: emus.env.DISCORD_APP_ID!, commands: await buildRegistry() });
}, 60_000);
afterAll(async () => {
  await Promise.allSettled([...replicas.values()].map((r) => r.stop('SIGKILL')));
  await emus?.close();
  await t?.drop();
});

async function startReplica(name: string, shardIds: string): Promise<{ child: Child; httpUrl: string }> {
  const child = spawnTsx('src/main.ts', [], {
    ...process.env,
    ...emus.env,
    DATABASE_URL: t.url,
    HTTP_PORT: '0',
    LOG_LEVEL: 'info',
    SHARD_COUNT: String(SHARDS),
    SHARD_IDS: shardIds,
  });
  replicas.set(name, child);
  const ready = await child.waitForLine((l) => l.json?.msg === 'ready', 90_000);
  return { child, httpUrl: String(ready.json!.http) };
}

const onShards = (ids: number[]) => [...emus.discord.guilds.values()].filter((g) => ids.includes(shardOf(g.id, SHARDS)));

function balance(guild: EmuGuild, user: EmuUser) {
  return emus.discord.inGuild(guild, () => emus.discord.runCommand(user, '/balance'));
}

/** /balance in `guild` gets its answer (an embed read from the shared database). */
async function answered(guild: EmuGuild, user: EmuUser): Promise<void> {
  const reply = await balance(guild, user).reply();
  expect(JSON.stringify(reply.embeds)).toContain('Your balance');
}

describe('two replicas on one database, each owning half of the shards', () => {
  it('answer interactions for guilds on their own shards; a killed replica started again takes its shards back', async () => {
    const { discord } = emus;
    const guilds = [...discord.guilds.values()];
    const alice = discord.user('alice');
    for (const g of guilds) discord.inGuild(g, () => discord.user('alice'));

    const [a, b] = await Promise.all([startReplica('a', '0,1'), startReplica('b', '2-3')]);
    for (const [replica, shards] of [[a, [0, 1]], [b, [2, 3]]] as const) {
      expect((await fetch(`${replica.httpUrl}/readyz`)).status).toBe(200);
      const ready = replica.child.lines.find((l) => l.json?.msg === 'discord ready')!.json!;
      expect(ready).toMatchObject({ shards, shardCount: SHARDS, guilds: onShards([...shards]).length });
    }
    expect(discord.shardSessions.map((s) => s.shard[0]).sort()).toEqual([0, 1, 2, 3]);

    // Every guild is answered, whichever replica holds its shard, from the one database.
    for (const g of guilds) await answered(g, alice);

    // Kill b outright: a keeps answering its guilds; b's guilds get nothing (their events wait in b's dead sessions).
    expect(await b.child.stop('SIGKILL')).toBeNull();
    const orphan = balance(onShards([2])[0]!, alice);
    for (const g of onShards([0, 1])) await answered(g, alice);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(orphan.acked).toBe(false);

    // b again: a new process cannot RESUME b's sessions, so it IDENTIFYs shards 2 and 3 afresh and serves them.
    const identifiesBefore = discord.gatewayStats.identifies;
    const b2 = await startReplica('b2', '2-3');
    expect(discord.gatewayStats.identifies - identifiesBefore).toBe(2);
    const live = discord.shardSessions.filter((s) => s.connected).map((s) => s.shard[0]).sort();
    expect(live).toEqual([0, 1, 2, 3]);
    for (const g of guilds) await answered(g, alice);
    expect(discord.failures).toEqual([]);

    expect(await b2.child.stop('SIGTERM')).toBe(0);
    expect(await a.child.stop('SIGTERM')).toBe(0);
  }, 240_000);
});
