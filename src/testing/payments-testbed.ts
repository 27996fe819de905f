import type { AppContext } from '../app-context';
import { generateTreasury } from '../chain/treasury';
import type { DiscordEmulator } from '../emulators/discord/discord-emulator';
import { startSolanaEmulator, type SolanaEmulator } from '../emulators/solana/solana-emulator';
import { startTestApp, type TestApp } from './test-app';
import type { TestDatabase } from './test-db';

export interface PaymentsTestbed {
  t: TestDatabase;
  sol: SolanaEmulator;
  ctx: AppContext;
  /** The real app (startTestApp) on the Discord emulator: `bot.emu`, `bot.client`, `bot.app.jobs`. */
  bot: TestApp;
  /** The treasury's public key (base58). */
  treasury: string;
  /** Stops the app and the Solana emulator and drops the database (check `sol.failures` before). */
  close(): Promise<void>;
}

/**
 * Solana emulator + a funded treasury + the real app (the startApp `npm start` uses) on the Discord emulator and a
 * fresh database, for e2e tests of on-chain money (deposits, withdrawals). `env` adds configuration; `emu` is a
 * running Discord emulator when the configuration names its users or channels (the caller closes it then).
 */
export async function startPaymentsTestbed(opts: { env?: Record<string, string>; treasuryLamports: bigint; emu?: DiscordEmulator }): Promise<PaymentsTestbed> {
  const sol = await startSolanaEmulator();
  try {
    const gen = generateTreasury();
    const treasury = gen.treasury.publicKey;
    sol.fund(treasury, opts.treasuryLamports);
    const bot = await startTestApp({
      ...(opts.emu ? { emu: opts.emu } : {}),
      env: {
        SOLANA_RPC_URL: sol.rpcUrl,
        SOLANA_WS_URL: sol.wsUrl,
        TREASURY_SECRET_KEY: gen.secretJson,
        PUBLIC_URL: 'http://127.0.0.1:9/',
        ...opts.env,
      },
    });
    return {
      t: bot.t,
      sol,
      ctx: bot.ctx,
      bot,
      treasury,
      async close() {
        await bot.close();
        await sol.close();
      },
    };
  } catch (err) {
    await sol.close();
    throw err;
  }
}
