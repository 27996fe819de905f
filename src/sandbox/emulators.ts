import { generateTreasury } from '../chain/treasury';
import { startDiscordEmulator, type DiscordEmulator } from '../emulators/discord/discord-emulator';
import { snowflakeOnShard } from '../emulators/discord/gateway';
import { startSolanaEmulator, type SolanaEmulator } from '../emulators/solana/solana-emulator';

export interface EmulatorsOptions {
  guildName?: string;
  /** Guilds besides the first, placed round-robin on the shards (guild i + 1 on shard i % shards). */
  extraGuilds?: number;
  /** Shards `GET /gateway/bot` recommends; bots get it as SHARD_COUNT. Default 1. */
  shards?: number;
  /** 0 (default) picks a free port. */
  discordPort?: number;
  solanaPort?: number;
}

export interface Emulators {
  discord: DiscordEmulator;
  solana: SolanaEmulator;
  /** The USDC mint created on the Solana emulator, configured as the ledger's USDC. */
  usdcMint: string;
  /**
   * The configuration keys that point a bot at these emulators (what `npm run emulators` prints): any number of
   * bot processes started with them share one emulated Discord and Solana.
   */
  env: Record<string, string>;
  close(): Promise<void>;
}

const TREASURY_FUNDING_LAMPORTS = 1_000n * 1_000_000_000n;
const BADGE_ISSUER_FUNDING_LAMPORTS = 10n * 1_000_000_000n;

/**
 * A loopback Discord and Solana as a deployment sees them: a Discord application with guilds, and a cluster with a
 * funded treasury, a funded badge issuer and a USDC mint. The sandbox starts them in its own process; `npm run emulators` on their own.
 */
export async function startEmulators(options: EmulatorsOptions = {}): Promise<Emulators> {
  const shards = options.shards ?? 1;
  const discord = await startDiscordEmulator({
    guildName: options.guildName ?? 'Solbound Sandbox',
    sharding: { shards },
    ...(options.discordPort ? { port: options.discordPort } : {}),
  });
  let solana: SolanaEmulator | undefined;
  try {
    for (let i = 0; i < (options.extraGuilds ?? 0); i++) {
      discord.addGuild(`Guild ${i + 2}`, { id: snowflakeOnShard(i % shards, shards) });
    }
    solana = await startSolanaEmulator(options.solanaPort ? { port: options.solanaPort } : {});
    const { treasury, secretJson } = generateTreasury();
    solana.fund(treasury.publicKey, TREASURY_FUNDING_LAMPORTS);
    // The badge issuer is its own key, never the treasury (DESIGN §6 Badge).
    const badgeIssuer = generateTreasury();
    solana.fund(badgeIssuer.treasury.publicKey, BADGE_ISSUER_FUNDING_LAMPORTS);
    const usdcMint = (await solana.createMint(6)).toBase58();
    const env = {
      DISCORD_TOKEN: discord.token,
      DISCORD_API_URL: discord.apiUrl,
      DISCORD_APP_ID: discord.appId,
      DISCORD_GUILD_ID: discord.guild.id,
      SHARD_COUNT: String(shards),
      SOLANA_CLUSTER: 'localnet',
      SOLANA_RPC_URL: solana.rpcUrl,
      SOLANA_WS_URL: solana.wsUrl,
      TREASURY_SECRET_KEY: secretJson,
      BADGE_ISSUER_SECRET_KEY: badgeIssuer.secretJson,
      LEDGER_TOKENS: `USDC:${usdcMint}:6`,
    };
    const sol = solana;
    return {
      discord,
      solana: sol,
      usdcMint,
      env,
      async close() {
        await Promise.allSettled([discord.close(), sol.close()]);
      },
    };
  } catch (err) {
    await Promise.allSettled([discord.close(), solana?.close()]);
    throw err;
  }
}
