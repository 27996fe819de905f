import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Keypair } from '@solana/web3.js';
import { startSolanaEmulator, type SolanaEmulator } from '../emulators/solana/solana-emulator';
import { createConnection, type ChainConnection } from './connection';
import {
  buildSignedTransfer,
  ChainSendError,
  confirmSignature,
  getBlockHeight,
  getLamports,
  getLatestBlockhash,
  getMintInfo,
  getSignatureStatus,
  getTokenBalance,
  isBlockhashValid,
  sendRaw,
} from './transfers';
import { generateTreasury, type Treasury } from './treasury';

let emu: SolanaEmulator;
let connection: ChainConnection;
let treasury: Treasury;

beforeAll(async () => {
  emu = await startSolanaEmulator();
  connection = createConnection({ rpcUrl: emu.rpcUrl, wsUrl: emu.wsUrl });
  treasury = generateTreasury().treasury;
  emu.fund(treasury.publicKey, 100_000_000_000n);
});

afterAll(async () => {
  expect(emu.failures).toEqual([]);
  await emu.close();
});

const someone = () => Keypair.generate().publicKey.toBase58();

describe('withdrawal transfers', () => {
  it('builds, signs, sends and confirms a SOL transfer whose signature is known before sending', async () => {
    const recipient = someone();
    const recent = await getLatestBlockhash(connection);
    const signed = buildSignedTransfer(treasury, { recipient, amount: 1_500_000_000n, ...recent });
    expect(signed.lastValidBlockHeight).toBe(recent.lastValidBlockHeight);
    expect(await getSignatureStatus(connection, signed.signature)).toEqual({ status: 'not-found' });
    expect(await sendRaw(connection, signed.serialized)).toBe(signed.signature);
    expect(await confirmSignature(connection, signed)).toEqual({ status: 'confirmed', err: null });
    expect(await getSignatureStatus(connection, signed.signature)).toMatchObject({ status: 'finalized', err: null });
    expect(await getLamports(connection, recipient)).toBe(1_500_000_000n);
  });

  for (const token2022 of [false, true]) {
    it(`sends SPL tokens and creates the recipient ATA idempotently (${token2022 ? 'Token-2022' : 'Token'})`, async () => {
      const mintKey = await emu.createMint(6, { token2022 });
      await emu.mintTo(mintKey, treasury.publicKey, 10_000_000n);
      const mint = await getMintInfo(connection, mintKey.toBase58());
      expect(mint).toEqual({ address: mintKey.toBase58(), decimals: 6, tokenProgram: token2022 ? 'spl-token-2022' : 'spl-token' });
      const recipient = someone();
      for (const amount of [2_500_000n, 500_000n]) {
        const signed = buildSignedTransfer(treasury, { recipient, amount, mint, memo: 'withdrawal', ...(await getLatestBlockhash(connection)) });
        await sendRaw(connection, signed.serialized);
        expect((await confirmSignature(connection, signed)).status).toBe('confirmed');
      }
      expect(await getTokenBalance(connection, recipient, mint.address)).toBe(3_000_000n);
      expect(await getTokenBalance(connection, treasury.publicKey, mint.address)).toBe(7_000_000n);
    });
  }

  it('resends the same bytes safely after a dropped send, and never pays twice', async () => {
    const recipient = someone();
    const signed = buildSignedTransfer(treasury, { recipient, amount: 1_000_000_000n, ...(await getLatestBlockhash(connection)) });
    emu.faults.dropNextSend();
    expect(await sendRaw(connection, signed.serialized)).toBe(signed.signature);
    expect(await getSignatureStatus(connection, signed.signature)).toEqual({ status: 'not-found' });
    expect(await isBlockhashValid(connection, signed.blockhash)).toBe(true);
    expect(await sendRaw(connection, signed.serialized)).toBe(signed.signature);
    expect((await getSignatureStatus(connection, signed.signature)).status).toBe('finalized');
    const again = await sendRaw(connection, signed.serialized).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(ChainSendError);
    expect((again as ChainSendError).kind).toBe('already-processed');
    expect(await sendRaw(connection, signed.serialized, { skipPreflight: true })).toBe(signed.signature);
    expect(await getLamports(connection, recipient)).toBe(1_000_000_000n);
  });

  it('reports an expired blockhash: invalid, rejected at preflight, and confirmation gives up', async () => {
    const recent = await getLatestBlockhash(connection);
    const signed = buildSignedTransfer(treasury, { recipient: someone(), amount: 1_000_000_000n, ...recent });
    emu.faults.dropNextSend();
    await sendRaw(connection, signed.serialized);
    emu.expireBlockhashes();
    expect(await getBlockHeight(connection)).toBeGreaterThan(recent.lastValidBlockHeight);
    expect(await isBlockhashValid(connection, recent.blockhash)).toBe(false);
    expect(await confirmSignature(connection, signed)).toEqual({ status: 'expired' });
    const err = await sendRaw(connection, signed.serialized).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChainSendError);
    expect((err as ChainSendError).kind).toBe('blockhash-not-found');
    expect(await getSignatureStatus(connection, signed.signature)).toEqual({ status: 'not-found' });
  });

  it('classifies a transfer that would fail on chain, with logs', async () => {
    const signed = buildSignedTransfer(treasury, { recipient: someone(), amount: 10_000_000_000_000n, ...(await getLatestBlockhash(connection)) });
    const err = await sendRaw(connection, signed.serialized).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChainSendError);
    expect((err as ChainSendError).kind).toBe('simulation-failed');
    expect((err as ChainSendError).logs.join('\n')).toMatch(/insufficient lamports/);
  });

  it('surfaces RPC transport failures as errors', async () => {
    const signed = buildSignedTransfer(treasury, { recipient: someone(), amount: 1_000_000_000n, ...(await getLatestBlockhash(connection)) });
    emu.faults.failNextRpc('sendTransaction', 503);
    const err = await sendRaw(connection, signed.serialized).catch((e: unknown) => e);
    expect((err as ChainSendError).kind).toBe('transport');
    emu.faults.failNextRpc('getSignatureStatuses');
    await expect(getSignatureStatus(connection, signed.signature)).rejects.toThrow(/500/);
    expect(await getSignatureStatus(connection, signed.signature)).toEqual({ status: 'not-found' });
  });
});
