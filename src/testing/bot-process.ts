import { buildRegistry } from '../discord/command-loader';
import { createRest, deployCommands } from '../discord/deploy-commands';
import { startEmulators, type Emulators, type EmulatorsOptions } from '../sandbox/emulators';

// Bot processes started exactly as production starts them (`node --import tsx src/main.ts`, configuration by
// environment only) against in-process emulators: the fault suite's replicas and the interactions bench's bot.

/** The emulators, with the bot's slash commands deployed as `npm run deploy-commands` would. */
export async function startEmulatorsWithCommands(options: EmulatorsOptions): Promise<Emulators> {
  const emus = await startEmulators(options);
  await deployCommands({ rest: createRest(emus.env.DISCORD_TOKEN!, emus.env.DISCORD_API_URL), appId: emus.env.DISCORD_APP_ID!, commands: await buildRegistry() });
  return emus;
}

/** A bot process's environment: the emulators' env and a database the caller has already migrated. */
export function botProcessEnv(emus: Emulators, databaseUrl: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ...emus.env,
    DATABASE_URL: databaseUrl,
    // The caller migrated the database once; bots must not race to do it on every (re)start.
    MIGRATE_ON_START: 'false',
    HTTP_PORT: '0',
    LOG_LEVEL: 'info',
    ...extra,
  };
}
