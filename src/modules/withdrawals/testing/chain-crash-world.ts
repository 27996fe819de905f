import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import type { AppContext } from '../../../app-context';
import { generateTreasury } from '../../../chain/treasury';
import { startSolanaEmulator, type SolanaEmulator } from '../../../emulators/solana/solana-emulator';
import { CrashHarness } from '../../../testing/crash-harness';
import { Factory } from '../../../testing/factories';
import { createTestContext } from '../../../testing/test-context';
import { createTestDatabase, type TestDatabase } from '../../../testing/test-db';
import { startRpcGate, type RpcGate } from './rpc-gate';

/** What a chain crash test runs against; filled in by the file's beforeAll. */
export interface ChainCrashWorld {
  t: TestDatabase;
  emu: SolanaEmulator;
  /** Between the workers and the emulator: holds a chosen RPC call so a worker is provably stuck in it. */
  gate: RpcGate;
  /** The test's own services (the checks and the restart), on the emulator directly. */
  ctx: AppContext;
  factory: Factory;
  env: Record<string, string>;
  /** A fresh keypair funded with 100 SOL on the emulator (the signer the file's env names). */
  treasurySecret: string;
  crash: CrashHarness;
}

/**
 * The setup the chain-side crash tests share (withdrawals.crash.test.ts, badges.crash.test.ts): a database, the
 * Solana emulator with an RPC gate in front, a funded keypair, and workers (src/testing/crash-harness.ts) whose RPC
 * goes through the gate. `env` builds the file's configuration. Registers the hooks: after each test the workers die
 * (the booting spare survives with `keepSpare`) and the gate lets go; at the end the emulator must have seen no
 * failed request.
 */
export function useChainCrashWorld(o: {
  worker: string;
  env: (w: { t: TestDatabase; emu: SolanaEmulator; treasurySecret: string }) => Promise<Record<string, string>> | Record<string, string>;
  keepSpare?: boolean;
}): Readonly<ChainCrashWorld> {
  const w = {} as ChainCrashWorld;
  w.crash = new CrashHarness({ worker: o.worker, env: () => ({ ...w.env, SOLANA_RPC_URL: w.gate.url, DB_POOL_MAX: '4', LOG_LEVEL: 'info' }) });
  beforeAll(async () => {
    [w.t, w.emu] = await Promise.all([createTestDatabase(), startSolanaEmulator()]);
    w.gate = await startRpcGate(w.emu.rpcUrl);
    const { treasury, secretJson } = generateTreasury();
    w.emu.fund(treasury.publicKey, 100_000_000_000n);
    w.treasurySecret = secretJson;
    w.env = await o.env(w);
    w.ctx = createTestContext(w.t, w.env);
    w.factory = new Factory(w.t.db);
  });
  afterEach(async () => {
    await w.crash.killAll({ keepSpare: o.keepSpare ?? false });
    w.gate.reset();
  });
  afterAll(async () => {
    await w.crash.killAll();
    expect(w.emu?.failures).toEqual([]);
    await w.gate?.close();
    await w.emu?.close();
    await w.t?.drop();
  });
  return w;
}

/** A raw JSON-RPC call to the emulator (not through the gate): how the outside world sees the chain. */
export async function rpcRaw(emu: SolanaEmulator, method: string, params: unknown[]): Promise<{ result?: unknown; error?: unknown }> {
  const res = await fetch(emu.rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) });
  return (await res.json()) as { result?: unknown; error?: unknown };
}

/** A signature's status as the chain reports it (history searched); null when it never landed. */
export async function signatureStatus(emu: SolanaEmulator, signature: string): Promise<{ err: unknown } | null> {
  const r = (await rpcRaw(emu, 'getSignatureStatuses', [[signature], { searchTransactionHistory: true }])).result as { value: ({ err: unknown } | null)[] };
  return r.value[0] ?? null;
}
