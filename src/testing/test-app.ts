import type { Client } from 'discord.js';
import { startApp, type App, type StartOptions } from '../app';
import type { AppContext } from '../app-context';
import { parseConfig } from '../config';
import { startDiscordEmulator, type DiscordEmulator, type DiscordEmulatorOptions } from '../emulators/discord/discord-emulator';
import { createLogger, type Logger } from '../logger';
import { createTestDatabase, type TestDatabase } from './test-db';

export interface TestApp {
  app: App;
  ctx: AppContext;
  emu: DiscordEmulator;
  /** The app's discord.js client (logged in). */
  client: Client;
  /** The test's own database (the app has its own pool on it); `t.db` for assertions and set-up. */
  t: TestDatabase;
  close(): Promise<void>;
}

export interface TestAppOptions {
  /** Environment on top of the test defaults, exactly as a deployment would set it. */
  env?: Record<string, string>;
  /** A running emulator (set up before the config that names its channels/roles); then not closed by close(). */
  emu?: DiscordEmulator;
  emulator?: DiscordEmulatorOptions;
  log?: Logger;
  extendRegistry?: StartOptions['extendRegistry'];
  discordRest?: StartOptions['discordRest'];
}

/**
 * The real app, booted by the same startApp `npm start` uses, against the loopback Discord emulator and a fresh test
 * database: only the configuration differs (as in the sandbox). Commands are deployed globally to the emulator, so
 * they work in its guild and in DMs. Jobs are not scheduled; tests run them with `app.jobs.runNow(name)`.
 */
export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const ownsEmulator = !options.emu;
  const emu = options.emu ?? (await startDiscordEmulator(options.emulator));
  let t: TestDatabase | undefined;
  try {
    t = await createTestDatabase();
    const config = parseConfig({
      LOG_LEVEL: 'silent',
      DATABASE_URL: t.url,
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: '0',
      JOBS_ENABLED: 'false',
      DISCORD_TOKEN: emu.token,
      DISCORD_API_URL: emu.apiUrl,
      DISCORD_APP_ID: emu.appId,
      ...options.env,
    });
    const log = options.log ?? createLogger(config.LOG_LEVEL);
    const app = await startApp(config, log, {
      deployCommands: true,
      ...(options.extendRegistry ? { extendRegistry: options.extendRegistry } : {}),
      ...(options.discordRest ? { discordRest: options.discordRest } : {}),
    });
    const db = t;
    if (!app.discord) {
      await app.stop();
      throw new Error('the app started without Discord');
    }
    return {
      app,
      ctx: app.ctx,
      emu,
      client: app.discord.client,
      t: db,
      async close() {
        await app.stop();
        await db.drop();
        if (ownsEmulator) await emu.close();
      },
    };
  } catch (err) {
    await t?.drop();
    if (ownsEmulator) await emu.close();
    throw err;
  }
}
