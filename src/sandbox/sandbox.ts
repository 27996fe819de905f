import { startApp, type App } from '../app';
import { generateTreasury } from '../chain/treasury';
import type { Config } from '../config';
import { startDiscordEmulator, type DiscordEmulator } from '../emulators/discord/discord-emulator';
import { startSolanaEmulator, type SolanaEmulator } from '../emulators/solana/solana-emulator';
import type { Logger } from '../logger';

export interface Sandbox {
  app: App;
  discord: DiscordEmulator;
  solana: SolanaEmulator;
  /** The sandbox USDC mint (created on the emulator, configured as the ledger's USDC). */
  usdcMint: string;
  stop(): Promise<void>;
}

const TREASURY_FUNDING_LAMPORTS = 1_000n * 1_000_000_000n;
const BADGE_ISSUER_FUNDING_LAMPORTS = 10n * 1_000_000_000n;

/**
 * The whole product against loopback stand-ins: a Discord emulator and a Solana emulator are started and the
 * configuration is pointed at them, exactly as a deployment points it at Discord and a cluster. The app itself
 * runs its one code path.
 */
export async function startSandbox(config: Config, log: Logger): Promise<Sandbox> {
  const discord = await startDiscordEmulator({ guildName: 'Solbound Sandbox' });
  let solana: SolanaEmulator | undefined;
  try {
    solana = await startSolanaEmulator();
    const { treasury, secretJson } = generateTreasury();
    solana.fund(treasury.publicKey, TREASURY_FUNDING_LAMPORTS);
    // The badge issuer is its own key, never the treasury (DESIGN §6 Badge).
    const badgeIssuer = generateTreasury();
    solana.fund(badgeIssuer.treasury.publicKey, BADGE_ISSUER_FUNDING_LAMPORTS);
    const usdcMint = (await solana.createMint(6)).toBase58();
    // Someone to run staff commands as (Manage Server on the emulated guild).
    discord.user('admin', { admin: true });

    const sandboxConfig: Config = {
      ...config,
      DISCORD_TOKEN: discord.token,
      DISCORD_API_URL: discord.apiUrl,
      DISCORD_APP_ID: discord.appId,
      DISCORD_GUILD_ID: discord.guild.id,
      SOLANA_CLUSTER: 'localnet',
      SOLANA_RPC_URL: solana.rpcUrl,
      SOLANA_WS_URL: solana.wsUrl,
      TREASURY_SECRET_KEY: secretJson,
      TREASURY_KEYPAIR_PATH: undefined,
      BADGE_ISSUER_SECRET_KEY: badgeIssuer.secretJson,
      BADGE_ISSUER_KEYPAIR_PATH: undefined,
      // A fresh sandbox has no history, so no member could reach a tier; the gate itself is covered by tests.
      BADGE_MIN_TIER: 'none',
      LEDGER_TOKENS: [{ code: 'USDC', mint: usdcMint, decimals: 6 }],
    };
    log.info({ discord: discord.url, solana: solana.rpcUrl, treasury: treasury.publicKey, usdcMint }, 'sandbox emulators started');
    const app = await startApp(sandboxConfig, log, { deployCommands: true });
    const sol = solana;
    return {
      app,
      discord,
      solana: sol,
      usdcMint,
      async stop() {
        await app.stop();
        await Promise.allSettled([discord.close(), sol.close()]);
      },
    };
  } catch (err) {
    await Promise.allSettled([discord.close(), solana?.close()]);
    throw err;
  }
}
