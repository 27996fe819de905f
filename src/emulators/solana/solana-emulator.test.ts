import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Connection,
  Keypair,
  LAMPORTS_PER_SOL,
  sendAndConfirmTransaction,
  SendTransactionError,
  SystemProgram,
  Transaction,
  TransactionMessage,
  VersionedTransaction,
} from '@solana/web3.js';
import { getAssociatedTokenAddressSync } from '@solana/spl-token';
import WebSocket from 'ws';
import { startSolanaEmulator, type SolanaEmulator } from './solana-emulator';

let emu: SolanaEmulator;
let connection: Connection;

beforeAll(async () => {
  emu = await startSolanaEmulator();
  connection = new Connection(emu.rpcUrl, { wsEndpoint: emu.wsUrl, commitment: 'confirmed' });
});

afterAll(async () => {
  expect(emu.failures).toEqual([]);
  await emu.close();
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- raw JSON-RPC replies are probed field by field
type Json = any;

async function rawRpc(method: string, params: unknown[] = []): Promise<{ status: number; body: Json }> {
  const res = await fetch(emu.rpcUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  const text = await res.text();
  return { status: res.status, body: res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text };
}

describe('solana emulator', () => {
  it('answers the basic node queries', async () => {
    expect(await rawRpc('getHealth')).toMatchObject({ body: { result: 'ok' } });
    expect(typeof (await connection.getVersion())['solana-core']).toBe('string');
    expect(typeof (await connection.getGenesisHash())).toBe('string');
    const slot = await connection.getSlot();
    const height = await connection.getBlockHeight();
    expect(slot).toBeGreaterThan(0);
    expect(height).toBeGreaterThan(0);
    const { blockhash, lastValidBlockHeight } = await connection.getLatestBlockhash();
    expect(lastValidBlockHeight).toBeGreaterThan(height);
    expect((await connection.isBlockhashValid(blockhash)).value).toBe(true);
    expect(await connection.getMinimumBalanceForRentExemption(165)).toBeGreaterThan(0);
  });

  it('sends a SOL transfer that web3.js confirms over the websocket', async () => {
    const from = emu.newWallet();
    const to = Keypair.generate().publicKey;
    const tx = new Transaction().add(SystemProgram.transfer({ fromPubkey: from.publicKey, toPubkey: to, lamports: LAMPORTS_PER_SOL }));
    const signature = await sendAndConfirmTransaction(connection, tx, [from]);
    expect(await connection.getBalance(to)).toBe(LAMPORTS_PER_SOL);
    const status = await connection.getSignatureStatus(signature, { searchTransactionHistory: true });
    expect(status.value?.confirmationStatus).toBe('finalized');
    expect(status.value?.err).toBeNull();

    const parsed = await connection.getParsedTransaction(signature, { maxSupportedTransactionVersion: 0 });
    expect(parsed?.meta?.err).toBeNull();
    expect(parsed?.meta?.fee).toBe(5000);
    const ix = parsed?.transaction.message.instructions[0];
    expect(ix && 'parsed' in ix ? ix.parsed : null).toEqual({
      type: 'transfer',
      info: { source: from.publicKey.toBase58(), destination: to.toBase58(), lamports: LAMPORTS_PER_SOL },
    });
    const plain = await connection.getTransaction(signature, { maxSupportedTransactionVersion: 0 });
    expect(plain?.meta?.postBalances[1]).toBe(LAMPORTS_PER_SOL);
    expect(plain!.meta!.preBalances[0]! - plain!.meta!.postBalances[0]!).toBe(LAMPORTS_PER_SOL + 5000);
  });

  it('handles v0 transactions and enforces maxSupportedTransactionVersion', async () => {
    const from = emu.newWallet();
    const to = Keypair.generate().publicKey;
    const { blockhash, lastValidBlockHeight } = await connection.getLatestBlockhash();
    const message = new TransactionMessage({
      payerKey: from.publicKey,
      recentBlockhash: blockhash,
      instructions: [SystemProgram.transfer({ fromPubkey: from.publicKey, toPubkey: to, lamports: LAMPORTS_PER_SOL })],
    }).compileToV0Message();
    const tx = new VersionedTransaction(message);
    tx.sign([from]);
    const signature = await connection.sendTransaction(tx);
    await connection.confirmTransaction({ signature, blockhash, lastValidBlockHeight });
    expect(await connection.getBalance(to)).toBe(LAMPORTS_PER_SOL);
    await expect(connection.getTransaction(signature)).rejects.toThrow(/maxSupportedTransactionVersion/);
    const full = await connection.getTransaction(signature, { maxSupportedTransactionVersion: 0 });
    expect(full?.version).toBe(0);
    expect(full?.meta?.postBalances[1]).toBe(LAMPORTS_PER_SOL);
    const parsed = await connection.getParsedTransaction(signature, { maxSupportedTransactionVersion: 0 });
    expect(parsed?.version).toBe(0);
  });

  it('requestAirdrop lands and confirms', async () => {
    const kp = Keypair.generate();
    const sig = await connection.requestAirdrop(kp.publicKey, 2 * LAMPORTS_PER_SOL);
    const latest = await connection.getLatestBlockhash();
    await connection.confirmTransaction({ signature: sig, ...latest });
    expect(await connection.getBalance(kp.publicKey)).toBe(2 * LAMPORTS_PER_SOL);
  });

  for (const token2022 of [false, true]) {
    it(`moves SPL tokens with recipient ATA creation (${token2022 ? 'Token-2022' : 'Token'})`, async () => {
      const mint = await emu.createMint(6, { token2022 });
      const alice = emu.newWallet();
      const bob = Keypair.generate().publicKey;
      await emu.mintTo(mint, alice.publicKey, 5_000_000n);
      const sig = await emu.transferToken(alice, mint, bob, 1_250_000n, { memo: 'thanks' });
      expect(emu.tokenBalance(bob, mint)).toBe(1_250_000n);

      const programId = emu.tokenProgramOf(mint);
      const bobAta = getAssociatedTokenAddressSync(mint, bob, true, programId);
      expect((await connection.getTokenAccountBalance(bobAta)).value).toMatchObject({ amount: '1250000', decimals: 6, uiAmountString: '1.25' });
      const byOwner = await connection.getParsedTokenAccountsByOwner(bob, { mint });
      expect(byOwner.value).toHaveLength(1);
      expect(byOwner.value[0]!.account.data.parsed.info.tokenAmount.amount).toBe('1250000');
      expect(byOwner.value[0]!.account.data.program).toBe(token2022 ? 'spl-token-2022' : 'spl-token');
      const byProgram = await connection.getTokenAccountsByOwner(alice.publicKey, { programId });
      expect(byProgram.value).toHaveLength(1);
      const mintInfo = await connection.getParsedAccountInfo(mint);
      expect((mintInfo.value?.data as Json).parsed).toMatchObject({ type: 'mint', info: { decimals: 6, supply: '5000000' } });

      const tx = await connection.getParsedTransaction(sig, { maxSupportedTransactionVersion: 0 });
      const ixs = tx!.transaction.message.instructions as Json[];
      expect(ixs.map((i) => i.parsed?.type ?? i.parsed)).toEqual(['createIdempotent', 'transferChecked', 'thanks']);
      const post = tx!.meta!.postTokenBalances!.find((b) => b.owner === bob.toBase58());
      expect(post?.uiTokenAmount.amount).toBe('1250000');
      expect(tx!.meta!.preTokenBalances!.find((b) => b.owner === bob.toBase58())).toBeUndefined();
      expect(tx!.meta!.innerInstructions!.length).toBeGreaterThan(0);
    });
  }

  it('rejects a failing tx at preflight with -32002 and logs', async () => {
    const from = emu.newWallet(LAMPORTS_PER_SOL);
    const tx = new Transaction().add(
      SystemProgram.transfer({ fromPubkey: from.publicKey, toPubkey: Keypair.generate().publicKey, lamports: 5 * LAMPORTS_PER_SOL }),
    );
    const err = await sendAndConfirmTransaction(connection, tx, [from]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SendTransactionError);
    const logs = await (err as SendTransactionError).getLogs(connection);
    expect(logs.join('\n')).toMatch(/insufficient lamports/);

    const { blockhash } = await connection.getLatestBlockhash();
    const raw = new Transaction({ feePayer: from.publicKey, recentBlockhash: blockhash }).add(
      SystemProgram.transfer({ fromPubkey: from.publicKey, toPubkey: Keypair.generate().publicKey, lamports: 5 * LAMPORTS_PER_SOL }),
    );
    raw.sign(from);
    const res = await rawRpc('sendTransaction', [raw.serialize().toString('base64'), { encoding: 'base64' }]);
    expect(res.body.error.code).toBe(-32002);
    expect(res.body.error.data.err).toEqual({ InstructionError: [0, { Custom: 1 }] });
    expect(res.body.error.data.logs.length).toBeGreaterThan(0);
  });

  it('lands a failing tx with skipPreflight, charging the fee and reporting err', async () => {
    const from = emu.newWallet(LAMPORTS_PER_SOL);
    const { blockhash } = await connection.getLatestBlockhash();
    const tx = new Transaction({ feePayer: from.publicKey, recentBlockhash: blockhash }).add(
      SystemProgram.transfer({ fromPubkey: from.publicKey, toPubkey: Keypair.generate().publicKey, lamports: 5 * LAMPORTS_PER_SOL }),
    );
    tx.sign(from);
    const sig = await connection.sendRawTransaction(tx.serialize(), { skipPreflight: true });
    const status = await connection.getSignatureStatus(sig);
    expect(status.value?.err).toEqual({ InstructionError: [0, { Custom: 1 }] });
    const full = await connection.getTransaction(sig, { maxSupportedTransactionVersion: 0 });
    expect(full?.meta?.err).toEqual({ InstructionError: [0, { Custom: 1 }] });
    expect(full?.meta?.logMessages?.length).toBeGreaterThan(0);
    expect(await connection.getBalance(from.publicKey)).toBe(LAMPORTS_PER_SOL - 5000);
  });

  it('also accepts base58-encoded transactions', async () => {
    const from = emu.newWallet();
    const to = Keypair.generate().publicKey;
    const { blockhash } = await connection.getLatestBlockhash();
    const tx = new Transaction({ feePayer: from.publicKey, recentBlockhash: blockhash }).add(
      SystemProgram.transfer({ fromPubkey: from.publicKey, toPubkey: to, lamports: LAMPORTS_PER_SOL }),
    );
    tx.sign(from);
    const bs58 = (await import('bs58')).default;
    const res = await rawRpc('sendTransaction', [bs58.encode(tx.serialize())]);
    expect(res.body.result).toBe(bs58.encode(tx.signature!));
    expect(emu.balance(to)).toBe(BigInt(LAMPORTS_PER_SOL));
  });

  it('indexes every account key, so a Solana Pay reference finds the tx; newest first with before/until/limit', async () => {
    const payer = emu.newWallet();
    const reference = Keypair.generate().publicKey;
    const merchant = Keypair.generate().publicKey;
    const sigs: string[] = [];
    for (let i = 0; i < 3; i++) {
      sigs.push(await emu.transferSol(payer, merchant, LAMPORTS_PER_SOL / 10, { reference, memo: `order-${i}` }));
    }
    const found = await connection.getSignaturesForAddress(reference);
    expect(found.map((s) => s.signature)).toEqual([...sigs].reverse());
    expect(found[0]!.memo).toBe('[7] order-2');
    expect((await connection.getSignaturesForAddress(reference, { limit: 1 })).map((s) => s.signature)).toEqual([sigs[2]]);
    expect((await connection.getSignaturesForAddress(reference, { before: sigs[2] })).map((s) => s.signature)).toEqual([sigs[1], sigs[0]]);
    expect((await connection.getSignaturesForAddress(reference, { until: sigs[0] })).map((s) => s.signature)).toEqual([sigs[2], sigs[1]]);
    expect(await connection.getSignaturesForAddress(Keypair.generate().publicKey)).toEqual([]);
  });

  it('expires blockhashes by block height', async () => {
    const from = emu.newWallet();
    const { blockhash, lastValidBlockHeight } = await connection.getLatestBlockhash();
    const tx = new Transaction({ feePayer: from.publicKey, recentBlockhash: blockhash }).add(
      SystemProgram.transfer({ fromPubkey: from.publicKey, toPubkey: Keypair.generate().publicKey, lamports: LAMPORTS_PER_SOL }),
    );
    tx.sign(from);
    emu.expireBlockhashes();
    expect(await connection.getBlockHeight()).toBeGreaterThan(lastValidBlockHeight);
    expect((await connection.isBlockhashValid(blockhash)).value).toBe(false);
    const err = await connection.sendRawTransaction(tx.serialize()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SendTransactionError);
    expect(String((err as Error).message)).toMatch(/Blockhash not found/);
    // Without preflight the node accepts it but it never lands; web3.js gives up on block height.
    const sig = await connection.sendRawTransaction(tx.serialize(), { skipPreflight: true });
    await expect(connection.confirmTransaction({ signature: sig, blockhash, lastValidBlockHeight })).rejects.toThrow(/expired/);
    expect((await connection.getSignatureStatus(sig, { searchTransactionHistory: true })).value).toBeNull();
    // web3.js caches a blockhash for 30 s inside a Connection; after a forced expiry that cache is stale.
    connection = new Connection(emu.rpcUrl, { wsEndpoint: emu.wsUrl, commitment: 'confirmed' });
  });

  it('keeps a recently issued blockhash valid across other landed transactions', async () => {
    const from = emu.newWallet();
    const { blockhash } = await connection.getLatestBlockhash();
    await emu.transferSol(emu.newWallet(), Keypair.generate().publicKey, LAMPORTS_PER_SOL);
    emu.advanceSlots(5);
    const tx = new Transaction({ feePayer: from.publicKey, recentBlockhash: blockhash }).add(
      SystemProgram.transfer({ fromPubkey: from.publicKey, toPubkey: Keypair.generate().publicKey, lamports: LAMPORTS_PER_SOL }),
    );
    tx.sign(from);
    const sig = await connection.sendRawTransaction(tx.serialize());
    expect((await connection.getSignatureStatus(sig)).value?.err).toBeNull();
  });

  it('fault: a dropped send returns a signature that is never found', async () => {
    const from = emu.newWallet();
    const to = Keypair.generate().publicKey;
    emu.faults.dropNextSend();
    const { blockhash } = await connection.getLatestBlockhash();
    const tx = new Transaction({ feePayer: from.publicKey, recentBlockhash: blockhash }).add(
      SystemProgram.transfer({ fromPubkey: from.publicKey, toPubkey: to, lamports: LAMPORTS_PER_SOL }),
    );
    tx.sign(from);
    const sig = await connection.sendRawTransaction(tx.serialize());
    expect((await connection.getSignatureStatus(sig, { searchTransactionHistory: true })).value).toBeNull();
    expect(await connection.getTransaction(sig, { maxSupportedTransactionVersion: 0 })).toBeNull();
    expect(await connection.getBalance(to)).toBe(0);
    // Resending the same bytes lands it: the safe-resend path of a withdrawal outbox.
    expect(await connection.sendRawTransaction(tx.serialize())).toBe(sig);
    expect(await connection.getBalance(to)).toBe(LAMPORTS_PER_SOL);
  });

  it('fault: an injected HTTP 500 surfaces as an error, once', async () => {
    emu.faults.failNextRpc('getBalance');
    await expect(connection.getBalance(Keypair.generate().publicKey)).rejects.toThrow(/500/);
    expect(await connection.getBalance(Keypair.generate().publicKey)).toBe(0);
  });

  it('fault: delayed confirmation still confirms over the websocket once it happens', async () => {
    const from = emu.newWallet();
    emu.faults.delayConfirmation(300);
    const started = Date.now();
    const tx = new Transaction().add(SystemProgram.transfer({ fromPubkey: from.publicKey, toPubkey: Keypair.generate().publicKey, lamports: 1_000_000 }));
    const sig = await sendAndConfirmTransaction(connection, tx, [from]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect((await connection.getSignatureStatus(sig)).value?.confirmationStatus).toBe('finalized');
  });

  it('notifies account subscribers', async () => {
    const wallet = emu.newWallet();
    const to = Keypair.generate().publicKey;
    const seen = new Promise<number>((resolve) => {
      const id = connection.onAccountChange(to, (info) => {
        void connection.removeAccountChangeListener(id);
        resolve(info.lamports);
      });
    });
    const deadline = Date.now() + 5_000;
    while (emu.subscriptionCount === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    await emu.transferSol(wallet, to, LAMPORTS_PER_SOL);
    expect(await seen).toBe(LAMPORTS_PER_SOL);
  });

  it('serves many concurrent requests', async () => {
    const wallets = Array.from({ length: 20 }, () => emu.newWallet());
    const to = Keypair.generate().publicKey;
    const sigs = await Promise.all(
      wallets.map((w) => {
        const tx = new Transaction().add(SystemProgram.transfer({ fromPubkey: w.publicKey, toPubkey: to, lamports: 1_000_000 }));
        return sendAndConfirmTransaction(connection, tx, [w]);
      }),
    );
    expect(new Set(sigs).size).toBe(20);
    expect(await connection.getBalance(to)).toBe(20_000_000);
    const balances = await Promise.all(wallets.map((w) => connection.getBalance(w.publicKey)));
    expect(balances.every((b) => b === 10 * LAMPORTS_PER_SOL - 1_000_000 - 5000)).toBe(true);
  });

  it('records unknown methods and answers -32601 (HTTP and websocket)', async () => {
    const res = await rawRpc('getTotallyMadeUp');
    expect(res.body.error.code).toBe(-32601);
    const ws = new WebSocket(emu.wsUrl);
    await new Promise((r) => ws.once('open', r));
    const reply = new Promise<Json>((resolve) => ws.once('message', (m) => resolve(JSON.parse(m.toString()))));
    ws.send(JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'rootSubscribe', params: [] }));
    expect((await reply).error.code).toBe(-32601);
    ws.close();
    expect(emu.failures).toEqual(['unknown RPC method: getTotallyMadeUp', 'unknown RPC method: rootSubscribe']);
    (emu.failures as string[]).length = 0;
  });

  it('getFeeForMessage and getMultipleAccounts', async () => {
    const from = emu.newWallet();
    const { blockhash } = await connection.getLatestBlockhash();
    const tx = new Transaction({ feePayer: from.publicKey, recentBlockhash: blockhash }).add(
      SystemProgram.transfer({ fromPubkey: from.publicKey, toPubkey: Keypair.generate().publicKey, lamports: LAMPORTS_PER_SOL }),
    );
    expect((await connection.getFeeForMessage(tx.compileMessage())).value).toBe(5000);
    const missing = Keypair.generate().publicKey;
    const infos = await connection.getMultipleAccountsInfo([from.publicKey, missing]);
    expect(infos[0]?.lamports).toBe(10 * LAMPORTS_PER_SOL);
    expect(infos[1]).toBeNull();
    const simulated = await connection.simulateTransaction(tx);
    expect(simulated.value.err).toBeNull();
  });
});
