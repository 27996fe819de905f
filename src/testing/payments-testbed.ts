import type { AppContext } from '../app-context';
import { generateTreasury } from '../chain/treasury';
import { startBotHarness, type BotHarness } from '../discord/bot-harness';
import type { InteractionRegistry } from '../discord/interaction-registry';
import { startSolanaEmulator, type SolanaEmulator } from '../emulators/solana/solana-emulator';
import { createTestContext } from './test-context';
import { createTestDatabase, type TestDatabase } from './test-db';

export interface PaymentsTestbed {
  t: TestDatabase;
  sol: SolanaEmulator;
  ctx: AppContext;
  bot: BotHarness;
  /** The treasury's public key (base58). */
  treasury: string;
  /** Stops the bot and the Solana emulator and drops the database (check `sol.failures` before). */
  close(): Promise<void>;
}

/**
 * Database + Solana emulator + a funded treasury + the real bot on the Discord emulator, for e2e tests of on-chain
 * money (deposits, withdrawals). `env` adds configuration; `registry` limits the commands (default: all).
 */
export async function startPaymentsTestbed(opts: { env?: Record<string, string>; treasuryLamports: bigint; registry?: InteractionRegistry }): Promise<PaymentsTestbed> {
  const [t, sol] = await Promise.all([createTestDatabase(), startSolanaEmulator()]);
  const gen = generateTreasury();
  const treasury = gen.treasury.publicKey;
  sol.fund(treasury, opts.treasuryLamports);
  const ctx = createTestContext(t, {
    SOLANA_RPC_URL: sol.rpcUrl,
    SOLANA_WS_URL: sol.wsUrl,
    TREASURY_SECRET_KEY: gen.secretJson,
    PUBLIC_URL: 'http://127.0.0.1:9/',
    ...opts.env,
  });
  const bot = await startBotHarness({ ctx, ...(opts.registry ? { registry: opts.registry } : {}) });
  return {
    t,
    sol,
    ctx,
    bot,
    treasury,
    async close() {
      await bot.close();
      await sol.close();
      await t.drop();
    },
  };
}
