import { startApp, type App, type StartOptions } from '../app';
import { parseConfig, type Config } from '../config';
import type { DiscordEmulator } from '../emulators/discord/discord-emulator';
import type { SolanaEmulator } from '../emulators/solana/solana-emulator';
import type { Logger } from '../logger';
import { startEmulators } from './emulators';

export interface Sandbox {
  app: App;
  discord: DiscordEmulator;
  solana: SolanaEmulator;
  /** The sandbox USDC mint (created on the emulator, configured as the ledger's USDC). */
  usdcMint: string;
  stop(): Promise<void>;
}

/**
 * The whole product against loopback stand-ins: a Discord emulator and a Solana emulator are started and the
 * configuration is pointed at them, exactly as a deployment points it at Discord and a cluster. The app itself
 * runs its one code path.
 */
export async function startSandbox(config: Config, log: Logger, options: Pick<StartOptions, 'signal' | 'discordRest'> = {}): Promise<Sandbox> {
  const emulators = await startEmulators({ guildName: 'Solbound Sandbox' });
  const { discord, solana, usdcMint } = emulators;
  try {
    // Someone to run staff commands as (Manage Server on the emulated guild), and a bot operator through the same
    // setting a deployment uses.
    const admin = discord.user('admin', { admin: true });

    // The same keys `npm run emulators` prints for separate bot processes, read the way the environment is.
    const pointed = parseConfig(emulators.env);
    const sandboxConfig: Config = {
      ...config,
      TREASURY_KEYPAIR_PATH: undefined,
      BADGE_ISSUER_KEYPAIR_PATH: undefined,
      // A fresh sandbox has no history, so no member could reach a tier; the gate itself is covered by tests.
      BADGE_MIN_TIER: 'none',
      // Partners try webhooks against receivers on their own machine (127.0.0.1); the SSRF guard would refuse them.
      WEBHOOKS_ALLOW_PRIVATE: true,
      BOT_OPERATOR_IDS: [...config.BOT_OPERATOR_IDS, admin.id],
    };
    for (const key of Object.keys(emulators.env) as (keyof Config)[]) Object.assign(sandboxConfig, { [key]: pointed[key] });
    log.info({ discord: discord.url, solana: solana.rpcUrl, usdcMint }, 'sandbox emulators started');
    const app = await startApp(sandboxConfig, log, { ...options, deployCommands: true });
    return {
      app,
      discord,
      solana,
      usdcMint,
      async stop() {
        await app.stop();
        await emulators.close();
      },
    };
  } catch (err) {
    await emulators.close();
    throw err;
  }
}
