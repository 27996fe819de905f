import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Keypair, LAMPORTS_PER_SOL, SystemProgram, Transaction } from '@solana/web3.js';
import { startSolanaEmulator, type SolanaEmulator } from '../emulators/solana/solana-emulator';
import { createConnection, type ChainConnection } from './connection';
import {
  buildTransferRequestUrl,
  findReference,
  newReference,
  parseTransferRequestUrl,
  transferRequestAmount,
  validateTransfer,
} from './solana-pay';

const MERCHANT = '9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin';
const USDC = 'EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v';

describe('Solana Pay transfer request URLs', () => {
  it('formats SOL amounts from lamports exactly', () => {
    expect(buildTransferRequestUrl({ recipient: MERCHANT, amount: 1_500_000_000n })).toBe(`solana:${MERCHANT}?amount=1.5`);
    expect(buildTransferRequestUrl({ recipient: MERCHANT, amount: 1n })).toBe(`solana:${MERCHANT}?amount=0.000000001`);
    expect(buildTransferRequestUrl({ recipient: MERCHANT })).toBe(`solana:${MERCHANT}`);
  });

  it('builds SPL requests with references, label, message and memo in spec order', () => {
    const r1 = newReference();
    const r2 = newReference();
    const url = buildTransferRequestUrl({
      recipient: MERCHANT,
      amount: 12_340_000n,
      decimals: 6,
      splToken: USDC,
      reference: [r1, r2],
      label: 'Solbound & Co',
      message: 'Gold plan — 1 month',
      memo: 'invoice#42',
    });
    expect(url).toBe(
      `solana:${MERCHANT}?amount=12.34&spl-token=${USDC}&reference=${r1}&reference=${r2}` +
        `&label=Solbound%20%26%20Co&message=Gold%20plan%20%E2%80%94%201%20month&memo=invoice%2342`,
    );
    const parsed = parseTransferRequestUrl(url);
    expect(parsed).toEqual({
      recipient: MERCHANT,
      amount: '12.34',
      splToken: USDC,
      references: [r1, r2],
      label: 'Solbound & Co',
      message: 'Gold plan — 1 month',
      memo: 'invoice#42',
    });
    expect(transferRequestAmount(parsed.amount!, 6)).toBe(12_340_000n);
  });

  it('rejects invalid input', () => {
    expect(() => buildTransferRequestUrl({ recipient: 'nope' })).toThrow(/recipient/);
    expect(() => buildTransferRequestUrl({ recipient: MERCHANT, amount: 1n, splToken: USDC })).toThrow(/decimals/);
    expect(() => buildTransferRequestUrl({ recipient: MERCHANT, reference: 'bad' })).toThrow(/reference/);
    expect(() => buildTransferRequestUrl({ recipient: MERCHANT, amount: -1n })).toThrow();
  });
});

describe('finding and validating payments', () => {
  let emu: SolanaEmulator;
  let connection: ChainConnection;
  const merchant = Keypair.generate().publicKey.toBase58();

  beforeAll(async () => {
    emu = await startSolanaEmulator();
    connection = createConnection({ rpcUrl: emu.rpcUrl, wsUrl: emu.wsUrl });
  });

  afterAll(async () => {
    expect(emu.failures).toEqual([]);
    await emu.close();
  });

  const sol = (n: number) => BigInt(n * LAMPORTS_PER_SOL);

  it('finds a payment by reference only once it lands', async () => {
    const reference = newReference();
    expect(await findReference(connection, reference)).toEqual({ status: 'not-found' });
    const payer = emu.newWallet();
    const sig = await emu.transferSol(payer, merchant, sol(1), { reference });
    const found = await findReference(connection, reference);
    expect(found).toMatchObject({ status: 'found', signature: sig, err: null, signatures: [sig] });
  });

  it('accepts an exact SOL payment and reports what was received', async () => {
    const reference = newReference();
    const payer = emu.newWallet();
    const sig = await emu.transferSol(payer, merchant, sol(1.25), { reference, memo: 'inv-1' });
    const result = await validateTransfer(connection, sig, { recipient: merchant, amount: sol(1.25), reference, memo: 'inv-1', allowOverpayment: false });
    expect(result).toMatchObject({ status: 'valid', signature: sig, received: sol(1.25), payer: payer.publicKey.toBase58() });
  });

  it('rejects underpayment, and overpayment unless allowed', async () => {
    const payer = emu.newWallet();
    const reference = newReference();
    const under = await emu.transferSol(payer, merchant, sol(0.5), { reference });
    expect(await validateTransfer(connection, under, { recipient: merchant, amount: sol(1), reference, allowOverpayment: true })).toMatchObject({
      status: 'invalid',
      reason: 'amount-too-low',
      received: sol(0.5),
    });
    const over = await emu.transferSol(payer, merchant, sol(2), { reference });
    expect(await validateTransfer(connection, over, { recipient: merchant, amount: sol(1), reference, allowOverpayment: false })).toMatchObject({
      status: 'invalid',
      reason: 'amount-too-high',
      received: sol(2),
    });
    expect(await validateTransfer(connection, over, { recipient: merchant, amount: sol(1), reference, allowOverpayment: true })).toMatchObject({
      status: 'valid',
      received: sol(2),
    });
  });

  it('rejects a payment to someone else, a missing reference and a wrong memo', async () => {
    const payer = emu.newWallet();
    const reference = newReference();
    const elsewhere = await emu.transferSol(payer, Keypair.generate().publicKey, sol(1), { reference });
    expect(await validateTransfer(connection, elsewhere, { recipient: merchant, amount: sol(1), reference, allowOverpayment: false })).toMatchObject({
      status: 'invalid',
      reason: 'recipient-not-credited',
      received: 0n,
    });
    const noRef = await emu.transferSol(payer, merchant, sol(1), { memo: 'x' });
    expect(await validateTransfer(connection, noRef, { recipient: merchant, amount: sol(1), reference, allowOverpayment: false })).toMatchObject({
      status: 'invalid',
      reason: 'reference-missing',
    });
    expect(await validateTransfer(connection, noRef, { recipient: merchant, amount: sol(1), memo: 'y', allowOverpayment: false })).toMatchObject({
      status: 'invalid',
      reason: 'memo-mismatch',
    });
  });

  it('reports not-found for unknown or dropped signatures, and failed for a tx that failed on chain', async () => {
    const payer = emu.newWallet(sol(1));
    const expected = { recipient: merchant, amount: sol(1), allowOverpayment: false };
    const fakeSig = '5'.repeat(87);
    expect(await validateTransfer(connection, fakeSig, expected)).toEqual({ status: 'not-found' });

    const { blockhash } = await connection.getLatestBlockhash();
    const tx = new Transaction({ feePayer: payer.publicKey, recentBlockhash: blockhash }).add(
      SystemProgram.transfer({ fromPubkey: payer.publicKey, toPubkey: Keypair.generate().publicKey, lamports: sol(5) }),
    );
    tx.sign(payer);
    const failedSig = await connection.sendRawTransaction(tx.serialize(), { skipPreflight: true });
    expect(await validateTransfer(connection, failedSig, expected)).toMatchObject({
      status: 'failed',
      err: { InstructionError: [0, { Custom: 1 }] },
    });

    emu.faults.dropNextSend();
    const tx2 = new Transaction({ feePayer: payer.publicKey, recentBlockhash: blockhash }).add(
      SystemProgram.transfer({ fromPubkey: payer.publicKey, toPubkey: Keypair.generate().publicKey, lamports: sol(0.1) }),
    );
    tx2.sign(payer);
    const dropped = await connection.sendRawTransaction(tx2.serialize());
    expect(await validateTransfer(connection, dropped, expected)).toEqual({ status: 'not-found' });
  });

  it('is not-found while the tx is only processed, valid once confirmed', async () => {
    const payer = emu.newWallet();
    emu.faults.delayConfirmation(200);
    const sig = await emu.transferSol(payer, merchant, sol(1));
    const expected = { recipient: merchant, amount: sol(1), allowOverpayment: false };
    expect(await validateTransfer(connection, sig, expected)).toEqual({ status: 'not-found' });
    await new Promise((r) => setTimeout(r, 250));
    expect((await validateTransfer(connection, sig, expected)).status).toBe('valid');
  });

  for (const token2022 of [false, true]) {
    it(`validates SPL payments by the recipient's token balance change (${token2022 ? 'Token-2022' : 'Token'})`, async () => {
      const mint = await emu.createMint(6, { token2022 });
      const otherMint = await emu.createMint(6, { token2022 });
      const payer = emu.newWallet();
      await emu.mintTo(mint, payer.publicKey, 100_000_000n);
      await emu.mintTo(otherMint, payer.publicKey, 100_000_000n);
      const reference = newReference();
      const expected = { recipient: merchant, amount: 5_000_000n, mint: mint.toBase58(), reference, allowOverpayment: false };

      const good = await emu.transferToken(payer, mint, merchant, 5_000_000n, { reference });
      expect(await validateTransfer(connection, good, expected)).toMatchObject({ status: 'valid', received: 5_000_000n });

      // Paying into an existing ATA with a plain (unchecked) transfer still counts.
      const plain = await emu.transferToken(payer, mint, merchant, 5_000_000n, { reference, checked: false, createAta: false });
      expect(await validateTransfer(connection, plain, expected)).toMatchObject({ status: 'valid', received: 5_000_000n });

      const wrongMint = await emu.transferToken(payer, otherMint, merchant, 5_000_000n, { reference });
      expect(await validateTransfer(connection, wrongMint, expected)).toMatchObject({ status: 'invalid', reason: 'wrong-mint' });

      const under = await emu.transferToken(payer, mint, merchant, 4_999_999n, { reference });
      expect(await validateTransfer(connection, under, expected)).toMatchObject({ status: 'invalid', reason: 'amount-too-low', received: 4_999_999n });

      const elsewhere = await emu.transferToken(payer, mint, Keypair.generate().publicKey, 5_000_000n, { reference });
      expect(await validateTransfer(connection, elsewhere, expected)).toMatchObject({ status: 'invalid', reason: 'recipient-not-credited' });

      const solInstead = await emu.transferSol(payer, merchant, sol(1), { reference });
      expect(await validateTransfer(connection, solInstead, expected)).toMatchObject({ status: 'invalid', reason: 'recipient-not-credited' });

      const found = await findReference(connection, reference);
      expect(found.status === 'found' && found.signatures).toEqual([solInstead, elsewhere, under, wrongMint, plain, good]);
    });
  }
});
