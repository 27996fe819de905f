// Just over ~500 lines: one LiteSVM wrapper (issued blockhashes, history, address index, Token-2022 extension state)
// whose parts share the same private maps; the RPC surface itself lives in rpc-methods.ts.
import bs58 from 'bs58';
import {
  address,
  getCompiledTransactionMessageDecoder,
  getTransactionDecoder,
  lamports as kitLamports,
  type CompiledTransactionMessageWithLifetime,
  type LegacyCompiledTransactionMessage,
  type Transaction as KitTransaction,
  type V0CompiledTransactionMessage,
} from '@solana/kit';
import { FailedTransactionMetadata, LiteSVM, type TransactionMetadata } from 'litesvm';
import { Keypair, PublicKey, SystemProgram, Transaction } from '@solana/web3.js';
import { decodeMint, decodeTokenAccount, MEMO_PROGRAM, MEMO_V1_PROGRAM, uiTokenAmount, type RawAccount } from './account-codec';
import type { ResolvedInstruction } from './instruction-parser';
import { RpcError, RPC_INVALID_PARAMS, RPC_SEND_TX_PREFLIGHT_FAILURE } from './rpc-json';
import { describeFailure, fieldlessTxError, type DescribedError, type RpcTransactionError } from './tx-error';

/** Legacy and v0 messages; v1 messages are rejected at decode time (no client the product uses sends them). */
export type DecodedMessage = (LegacyCompiledTransactionMessage | V0CompiledTransactionMessage) & CompiledTransactionMessageWithLifetime;

export type Commitment = 'processed' | 'confirmed' | 'finalized';

export const COMMITMENT_RANK: Record<Commitment, number> = { processed: 0, confirmed: 1, finalized: 2 };

export function parseCommitment(value: unknown, fallback: Commitment = 'finalized'): Commitment {
  if (value === 'processed' || value === 'confirmed' || value === 'finalized') return value;
  // Deprecated aliases still sent by some clients.
  if (value === 'recent') return 'processed';
  if (value === 'single' || value === 'singleGossip') return 'confirmed';
  if (value === 'max' || value === 'root') return 'finalized';
  return fallback;
}

export interface TokenBalance {
  accountIndex: number;
  mint: string;
  owner: string;
  programId: string;
  uiTokenAmount: ReturnType<typeof uiTokenAmount>;
}

export interface InnerInstructionSet {
  index: number;
  instructions: (ResolvedInstruction & { programIdIndex: number; accountIndices: number[] })[];
}

export interface TxRecord {
  signature: string;
  signatures: string[];
  slot: number;
  blockTime: number;
  wire: Uint8Array;
  version: 'legacy' | 0;
  message: DecodedMessage;
  accountKeys: string[];
  signer: boolean[];
  writable: boolean[];
  instructions: (ResolvedInstruction & { programIdIndex: number; accountIndices: number[] })[];
  innerInstructions: InnerInstructionSet[];
  err: RpcTransactionError | null;
  fee: bigint;
  preBalances: bigint[];
  postBalances: bigint[];
  preTokenBalances: TokenBalance[];
  postTokenBalances: TokenBalance[];
  logs: string[];
  computeUnits: bigint;
  memos: string[];
  status: Commitment;
}

export interface LedgerOptions {
  /** How many block heights a fetched blockhash stays usable (mainnet: 150). */
  blockhashValiditySlots?: number;
  /** Lamports held by the emulator's airdrop faucet. */
  faucetLamports?: bigint;
}

interface DecodedTx {
  tx: KitTransaction;
  message: DecodedMessage;
  signature: string;
  signatures: string[];
  unsigned: boolean;
  blockhash: string;
}

const ZERO_SIGNATURE = bs58.encode(new Uint8Array(64));
const LAMPORTS_PER_SIGNATURE = 5000n;

type Listener<T> = (value: T) => void;

/**
 * The emulated cluster: a LiteSVM bank plus what a real RPC node keeps on top of it (slots, block heights,
 * recent blockhashes, confirmed tx history and an address → signatures index). All mutation is synchronous,
 * so concurrent RPC requests are serialized by the event loop and never interleave inside a transaction.
 */
export class LedgerState {
  readonly svm: LiteSVM;
  readonly faucet: Keypair;
  slot = 1_000;
  blockHeight = 900;
  private readonly validity: number;
  private readonly issued = new Map<string, number>();
  private readonly history = new Map<string, TxRecord>();
  private readonly byAddress = new Map<string, string[]>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly statusListeners = new Set<Listener<TxRecord>>();
  private readonly accountListeners = new Set<Listener<string>>();
  private readonly slotListeners = new Set<Listener<number>>();
  private dropNext = 0;
  private confirmationDelayMs: number | null = null;

  constructor(opts: LedgerOptions = {}) {
    this.validity = opts.blockhashValiditySlots ?? 150;
    // Blockhash validity is enforced here, not by LiteSVM, which only knows its single latest blockhash.
    this.svm = new LiteSVM().withBlockhashCheck(false);
    this.faucet = Keypair.generate();
    this.setLamports(this.faucet.publicKey.toBase58(), opts.faucetLamports ?? 1_000_000_000_000_000_000n);
  }

  // ---- events -------------------------------------------------------------------------------------------
  onStatus(fn: Listener<TxRecord>): () => void {
    this.statusListeners.add(fn);
    return () => this.statusListeners.delete(fn);
  }
  onAccount(fn: Listener<string>): () => void {
    this.accountListeners.add(fn);
    return () => this.accountListeners.delete(fn);
  }
  onSlot(fn: Listener<number>): () => void {
    this.slotListeners.add(fn);
    return () => this.slotListeners.delete(fn);
  }

  // ---- faults -------------------------------------------------------------------------------------------
  dropNextSend(): void {
    this.dropNext += 1;
  }
  delayNextConfirmation(ms: number): void {
    this.confirmationDelayMs = ms;
  }

  // ---- clock & blockhashes ------------------------------------------------------------------------------
  issueBlockhash(): { blockhash: string; lastValidBlockHeight: number } {
    const blockhash = this.svm.latestBlockhash() as string;
    let lastValid = this.issued.get(blockhash);
    if (lastValid === undefined) {
      lastValid = this.blockHeight + this.validity;
      this.issued.set(blockhash, lastValid);
    }
    return { blockhash, lastValidBlockHeight: lastValid };
  }

  isBlockhashValid(blockhash: string): boolean {
    const lastValid = this.issued.get(blockhash);
    return lastValid !== undefined && this.blockHeight <= lastValid;
  }

  advanceSlots(n: number): void {
    if (n <= 0) return;
    this.slot += n;
    this.blockHeight += n;
    this.svm.expireBlockhash();
    for (const [hash, lastValid] of this.issued) {
      // Keep expired hashes a while so they read as "expired" rather than "never seen"; both are invalid.
      if (lastValid + this.validity * 4 < this.blockHeight) this.issued.delete(hash);
    }
    for (const fn of this.slotListeners) fn(this.slot);
  }

  /** Moves block height past every issued blockhash's lastValidBlockHeight. */
  expireBlockhashes(): void {
    let maxLastValid = this.blockHeight;
    for (const lastValid of this.issued.values()) maxLastValid = Math.max(maxLastValid, lastValid);
    this.advanceSlots(maxLastValid - this.blockHeight + 1);
  }

  // ---- accounts -----------------------------------------------------------------------------------------
  getAccount(key: string): RawAccount | null {
    const acct = this.svm.getAccount(address(key));
    if (!acct.exists) return null;
    return { lamports: acct.lamports, data: new Uint8Array(acct.data), owner: acct.programAddress, executable: acct.executable };
  }

  getProgramAccounts(program: string): { pubkey: string; account: RawAccount }[] {
    return this.svm.getProgramAccounts(address(program)).map((a) => ({
      pubkey: a.address as string,
      account: { lamports: a.lamports as bigint, data: new Uint8Array(a.data), owner: a.programAddress as string, executable: a.executable },
    }));
  }

  mintDecimals = (mint: string): number | null => {
    const acct = this.getAccount(mint);
    return acct ? (decodeMint(acct)?.decimals ?? null) : null;
  };

  setLamports(key: string, amount: bigint): void {
    const current = this.svm.getAccount(address(key));
    this.svm.setAccount({
      address: address(key),
      lamports: kitLamports(amount),
      data: current.exists ? current.data : new Uint8Array(0),
      programAddress: current.exists ? current.programAddress : address('11111111111111111111111111111111'),
      executable: current.exists ? current.executable : false,
      space: current.exists ? current.space : 0n,
    });
    for (const fn of this.accountListeners) fn(key);
  }

  addLamports(key: string, amount: bigint): void {
    this.setLamports(key, (this.getAccount(key)?.lamports ?? 0n) + amount);
  }

  minimumBalanceForRentExemption(len: number): bigint {
    return this.svm.minimumBalanceForRentExemption(BigInt(len));
  }

  // ---- history ------------------------------------------------------------------------------------------
  getRecord(signature: string): TxRecord | undefined {
    return this.history.get(signature);
  }

  signaturesFor(addr: string): readonly string[] {
    return this.byAddress.get(addr) ?? [];
  }

  // ---- transactions -------------------------------------------------------------------------------------
  decode(wire: Uint8Array): DecodedTx {
    let tx: KitTransaction;
    let decoded: ReturnType<ReturnType<typeof getCompiledTransactionMessageDecoder>['decode']>;
    try {
      tx = getTransactionDecoder().decode(wire);
      decoded = getCompiledTransactionMessageDecoder().decode(tx.messageBytes);
    } catch (e) {
      throw new RpcError(RPC_INVALID_PARAMS, `failed to deserialize transaction: ${(e as Error).message}`);
    }
    if (decoded.version !== 'legacy' && decoded.version !== 0) {
      throw new RpcError(RPC_INVALID_PARAMS, `unsupported transaction version ${String(decoded.version)}`);
    }
    const message = decoded as unknown as DecodedMessage;
    const signatures = Object.values(tx.signatures).map((s) => (s ? bs58.encode(s) : ZERO_SIGNATURE));
    return {
      tx,
      message,
      signatures,
      signature: signatures[0] ?? ZERO_SIGNATURE,
      unsigned: Object.values(tx.signatures).some((s) => s === null),
      blockhash: message.lifetimeToken,
    };
  }

  simulate(
    wire: Uint8Array,
    opts: { sigVerify: boolean; replaceRecentBlockhash: boolean; accounts?: string[] },
  ): {
    err: RpcTransactionError | null;
    logs: string[];
    unitsConsumed: bigint;
    accounts: (RawAccount | null)[] | null;
    replacementBlockhash?: { blockhash: string; lastValidBlockHeight: number };
    returnData: { programId: string; data: [string, 'base64'] } | null;
  } {
    const d = this.decode(wire);
    if (opts.sigVerify && d.unsigned) {
      throw new RpcError(-32003, 'Transaction signature verification failure');
    }
    if (!opts.replaceRecentBlockhash && !this.isBlockhashValid(d.blockhash)) {
      return { err: 'BlockhashNotFound', logs: [], unitsConsumed: 0n, accounts: null, returnData: null };
    }
    const outcome = this.runSimulation(d, opts.sigVerify);
    let accounts: (RawAccount | null)[] | null = null;
    if (opts.accounts) {
      const post = new Map(outcome.post.map((a) => [a.pubkey, a.account]));
      accounts = opts.accounts.map((k) => post.get(k) ?? this.getAccount(k));
    }
    return {
      err: outcome.error?.json ?? null,
      logs: outcome.logs,
      unitsConsumed: outcome.unitsConsumed,
      accounts,
      returnData: outcome.returnData,
      ...(opts.replaceRecentBlockhash ? { replacementBlockhash: this.issueBlockhash() } : {}),
    };
  }

  private runSimulation(
    d: DecodedTx,
    sigVerify: boolean,
  ): {
    error: DescribedError | null;
    logs: string[];
    unitsConsumed: bigint;
    post: { pubkey: string; account: RawAccount }[];
    returnData: { programId: string; data: [string, 'base64'] } | null;
  } {
    if (!sigVerify) this.svm.withSigverify(false);
    try {
      const result = this.svm.simulateTransaction(d.tx);
      if (result instanceof FailedTransactionMetadata) {
        const meta = result.meta();
        return { error: describeFailure(result), logs: meta.logs(), unitsConsumed: meta.computeUnitsConsumed(), post: [], returnData: returnDataOf(meta) };
      }
      const meta = result.meta();
      const post = result.postAccounts().map((a) => ({
        pubkey: a.address as string,
        account: { lamports: a.lamports as bigint, data: new Uint8Array(a.data), owner: a.programAddress as string, executable: a.executable },
      }));
      return { error: null, logs: meta.logs(), unitsConsumed: meta.computeUnitsConsumed(), post, returnData: returnDataOf(meta) };
    } catch {
      return { error: fieldlessTxError('SignatureFailure'), logs: [], unitsConsumed: 0n, post: [], returnData: null };
    } finally {
      if (!sigVerify) this.svm.withSigverify(true);
    }
  }

  /**
   * sendTransaction semantics: preflight (unless skipped) rejects with -32002 and the simulation logs;
   * otherwise the signature is returned even if the cluster then drops the tx (expired blockhash, fee payer
   * can't pay), exactly like a leader silently discarding it.
   */
  submit(wire: Uint8Array, opts: { skipPreflight: boolean }): string {
    const d = this.decode(wire);
    if (d.unsigned) throw new RpcError(-32003, 'Transaction signature verification failure');
    if (!opts.skipPreflight) {
      let failure: { error: DescribedError; logs: string[]; unitsConsumed: bigint } | null = null;
      if (this.history.has(d.signature)) {
        failure = { error: fieldlessTxError('AlreadyProcessed'), logs: [], unitsConsumed: 0n };
      } else if (!this.isBlockhashValid(d.blockhash)) {
        failure = { error: fieldlessTxError('BlockhashNotFound'), logs: [], unitsConsumed: 0n };
      } else {
        const sim = this.runSimulation(d, true);
        if (sim.error) failure = { error: sim.error, logs: sim.logs, unitsConsumed: sim.unitsConsumed };
      }
      if (failure) {
        throw new RpcError(RPC_SEND_TX_PREFLIGHT_FAILURE, `Transaction simulation failed: ${failure.error.message}`, {
          accounts: null,
          err: failure.error.json,
          innerInstructions: null,
          logs: failure.logs,
          replacementBlockhash: null,
          returnData: null,
          unitsConsumed: failure.unitsConsumed,
        });
      }
    }
    if (this.dropNext > 0) {
      this.dropNext -= 1;
      return d.signature;
    }
    this.execute(d, wire);
    return d.signature;
  }

  private execute(d: DecodedTx, wire: Uint8Array): TxRecord | null {
    if (this.history.has(d.signature) || !this.isBlockhashValid(d.blockhash)) return null;
    const m = d.message;
    const keys = m.staticAccounts.map((a) => a as string);
    const pre = keys.map((k) => this.getAccount(k));
    let result: TransactionMetadata | FailedTransactionMetadata;
    try {
      result = this.svm.sendTransaction(d.tx);
    } catch {
      return null;
    }
    let error: DescribedError | null = null;
    let meta: TransactionMetadata;
    if (result instanceof FailedTransactionMetadata) {
      error = describeFailure(result);
      if (!error.landed) return null;
      meta = result.meta();
    } else {
      meta = result;
    }
    const post = keys.map((k) => this.getAccount(k));

    const numSigners = m.header.numSignerAccounts;
    const signer = keys.map((_, i) => i < numSigners);
    const writable = keys.map((_, i) =>
      i < numSigners
        ? i < numSigners - m.header.numReadonlySignerAccounts
        : i < keys.length - m.header.numReadonlyNonSignerAccounts,
    );
    const resolve = (programIdIndex: number, accountIndices: number[], data: Uint8Array, stackHeight: number | null) => ({
      programIdIndex,
      accountIndices,
      programId: keys[programIdIndex] ?? '',
      accounts: accountIndices.map((i) => keys[i] ?? ''),
      data,
      stackHeight,
    });
    const instructions = m.instructions.map((ix) =>
      resolve(ix.programAddressIndex, [...(ix.accountIndices ?? [])], new Uint8Array(ix.data ?? new Uint8Array(0)), null),
    );
    const innerInstructions: InnerInstructionSet[] = [];
    meta.innerInstructions().forEach((set, index) => {
      if (set.length === 0) return;
      innerInstructions.push({
        index,
        instructions: set.map((inner) => {
          const c = inner.instruction();
          return resolve(c.programIdIndex(), [...c.accounts()], new Uint8Array(c.data()), inner.stackHeight());
        }),
      });
    });
    const memos = instructions
      .filter((ix) => ix.programId === MEMO_PROGRAM || ix.programId === MEMO_V1_PROGRAM)
      .map((ix) => Buffer.from(ix.data).toString('utf8'));

    this.advanceSlots(1);
    const record: TxRecord = {
      signature: d.signature,
      signatures: d.signatures,
      slot: this.slot,
      blockTime: Math.floor(Date.now() / 1000),
      wire: new Uint8Array(wire),
      version: m.version === 'legacy' ? 'legacy' : 0,
      message: m,
      accountKeys: keys,
      signer,
      writable,
      instructions,
      innerInstructions,
      err: error?.json ?? null,
      fee: feeOf(meta, numSigners),
      preBalances: pre.map((a) => a?.lamports ?? 0n),
      postBalances: post.map((a) => a?.lamports ?? 0n),
      preTokenBalances: this.tokenBalances(pre),
      postTokenBalances: this.tokenBalances(post),
      logs: meta.logs(),
      computeUnits: meta.computeUnitsConsumed(),
      memos,
      status: 'processed',
    };
    this.history.set(record.signature, record);
    for (const k of new Set(keys)) {
      let list = this.byAddress.get(k);
      if (!list) this.byAddress.set(k, (list = []));
      list.push(record.signature);
    }
    for (const fn of this.statusListeners) fn(record);
    const delay = this.confirmationDelayMs;
    this.confirmationDelayMs = null;
    if (delay === null) {
      this.finalize(record);
    } else {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.finalize(record);
      }, delay);
      this.timers.add(timer);
    }
    keys.forEach((k, i) => {
      if (writable[i]) for (const fn of this.accountListeners) fn(k);
    });
    return record;
  }

  // Landed txs go straight to finalized: there are no forks to wait for, and one step keeps web3.js happy
  // whichever commitment it waits on.
  private finalize(record: TxRecord): void {
    record.status = 'finalized';
    for (const fn of this.statusListeners) fn(record);
  }

  private tokenBalances(accounts: (RawAccount | null)[]): TokenBalance[] {
    const out: TokenBalance[] = [];
    accounts.forEach((acct, accountIndex) => {
      if (!acct) return;
      const token = decodeTokenAccount(acct);
      if (!token) return;
      const decimals = this.mintDecimals(token.mint) ?? 0;
      out.push({
        accountIndex,
        mint: token.mint,
        owner: token.owner,
        programId: acct.owner,
        uiTokenAmount: uiTokenAmount(token.amount, decimals),
      });
    });
    return out;
  }

  /** A real faucet transfer through the normal pipeline, so the airdrop has a signature, history and status. */
  requestAirdrop(to: string, amount: bigint): string {
    const { blockhash } = this.issueBlockhash();
    const tx = new Transaction({ feePayer: this.faucet.publicKey, recentBlockhash: blockhash }).add(
      SystemProgram.transfer({ fromPubkey: this.faucet.publicKey, toPubkey: new PublicKey(to), lamports: amount }),
    );
    tx.sign(this.faucet);
    return this.submit(tx.serialize(), { skipPreflight: false });
  }

  close(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.statusListeners.clear();
    this.accountListeners.clear();
    this.slotListeners.clear();
  }
}

// A node reports the last program's return data, or null when no program set any.
function returnDataOf(meta: TransactionMetadata): { programId: string; data: [string, 'base64'] } | null {
  const rd = meta.returnData();
  const data = rd.data();
  const programId = bs58.encode(rd.programId());
  if (data.length === 0 && programId === '11111111111111111111111111111111') return null;
  return { programId, data: [Buffer.from(data).toString('base64'), 'base64'] };
}

// LiteSVM's JS binding has no fee accessor; its debug string does (and includes priority fees).
function feeOf(meta: TransactionMetadata, numSigners: number): bigint {
  const match = /fee: (\d+) \}\)?\s*$/.exec(meta.toString());
  return match?.[1] ? BigInt(match[1]) : LAMPORTS_PER_SIGNATURE * BigInt(numSigners);
}
