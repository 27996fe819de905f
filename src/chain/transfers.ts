import bs58 from 'bs58';
import {
  createAssociatedTokenAccountIdempotentInstruction,
  createTransferCheckedInstruction,
  getAssociatedTokenAddressSync,
  TOKEN_2022_PROGRAM_ID,
  TOKEN_PROGRAM_ID,
  unpackMint,
} from '@solana/spl-token';
import {
  PublicKey,
  SendTransactionError,
  SystemProgram,
  Transaction,
  TransactionExpiredBlockheightExceededError,
  TransactionInstruction,
  type Connection,
} from '@solana/web3.js';
import type { ChainCommitment } from './connection';
import type { Treasury } from './treasury';

export const MEMO_PROGRAM_ID = 'MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr';

export type TokenProgramName = 'spl-token' | 'spl-token-2022';

export interface MintInfo {
  address: string;
  decimals: number;
  tokenProgram: TokenProgramName;
}

export class ChainError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ChainError';
  }
}

function tokenProgramId(name: TokenProgramName): PublicKey {
  return name === 'spl-token-2022' ? TOKEN_2022_PROGRAM_ID : TOKEN_PROGRAM_ID;
}

/** Reads a mint from chain: decimals and which token program (Token or Token-2022) owns it. */
export async function getMintInfo(connection: Connection, mint: string): Promise<MintInfo> {
  const key = new PublicKey(mint);
  const account = await connection.getAccountInfo(key);
  if (!account) throw new ChainError(`mint ${mint} not found`);
  let tokenProgram: TokenProgramName;
  if (account.owner.equals(TOKEN_PROGRAM_ID)) tokenProgram = 'spl-token';
  else if (account.owner.equals(TOKEN_2022_PROGRAM_ID)) tokenProgram = 'spl-token-2022';
  else throw new ChainError(`${mint} is not a token mint`);
  const decoded = unpackMint(key, account, account.owner);
  return { address: mint, decimals: decoded.decimals, tokenProgram };
}

/** The associated token account of `owner` for `mint` (off-curve owners allowed, e.g. PDAs). */
export function associatedTokenAddress(owner: string, mint: MintInfo): string {
  return getAssociatedTokenAddressSync(new PublicKey(mint.address), new PublicKey(owner), true, tokenProgramId(mint.tokenProgram)).toBase58();
}

export interface TransferInstructionParams {
  /** Pays fees and ATA rent, and owns the source funds. */
  from: string;
  recipient: string;
  /** Base units: lamports for SOL, token base units for SPL. */
  amount: bigint;
  /** Omit for SOL. */
  mint?: MintInfo;
  /** Solana Pay reference key(s): added read-only, non-signer, to the transfer instruction. */
  reference?: string | string[];
  memo?: string;
  /** SPL only; default true. Idempotent, so safe even when the ATA exists. */
  createRecipientAta?: boolean;
}

/** Instructions for a SOL or SPL transfer laid out the way Solana Pay wallets do (memo first, reference keys). */
export function buildTransferInstructions(p: TransferInstructionParams): TransactionInstruction[] {
  if (p.amount <= 0n) throw new ChainError('transfer amount must be positive');
  const from = new PublicKey(p.from);
  const recipient = new PublicKey(p.recipient);
  const out: TransactionInstruction[] = [];
  if (p.memo !== undefined) {
    out.push(new TransactionInstruction({ programId: new PublicKey(MEMO_PROGRAM_ID), keys: [], data: Buffer.from(p.memo, 'utf8') }));
  }
  let transfer: TransactionInstruction;
  if (!p.mint) {
    transfer = SystemProgram.transfer({ fromPubkey: from, toPubkey: recipient, lamports: p.amount });
  } else {
    const programId = tokenProgramId(p.mint.tokenProgram);
    const mint = new PublicKey(p.mint.address);
    const source = getAssociatedTokenAddressSync(mint, from, true, programId);
    const destination = getAssociatedTokenAddressSync(mint, recipient, true, programId);
    if (p.createRecipientAta !== false) {
      out.push(createAssociatedTokenAccountIdempotentInstruction(from, destination, recipient, mint, programId));
    }
    transfer = createTransferCheckedInstruction(source, mint, destination, from, p.amount, p.mint.decimals, [], programId);
  }
  const refs = p.reference === undefined ? [] : Array.isArray(p.reference) ? p.reference : [p.reference];
  for (const r of refs) transfer.keys.push({ pubkey: new PublicKey(r), isSigner: false, isWritable: false });
  out.push(transfer);
  return out;
}

export interface RecentBlockhash {
  blockhash: string;
  lastValidBlockHeight: number;
}

export async function getLatestBlockhash(connection: Connection, commitment: ChainCommitment = 'confirmed'): Promise<RecentBlockhash> {
  const { blockhash, lastValidBlockHeight } = await connection.getLatestBlockhash(commitment);
  return { blockhash, lastValidBlockHeight };
}

export interface SignedTransfer {
  /** base58; the first signature, known before the tx is sent — store it before sending. */
  signature: string;
  /** base64 wire bytes; resending exactly these bytes can never double-pay. */
  serialized: string;
  blockhash: string;
  lastValidBlockHeight: number;
}

/**
 * Builds and signs a treasury transfer against a given recent blockhash. Nothing is sent: the caller
 * persists `signature` + `serialized` first, then calls {@link sendRaw} (as often as needed) until the
 * signature confirms or the blockhash expires.
 */
export function buildSignedTransfer(
  treasury: Treasury,
  p: Omit<TransferInstructionParams, 'from'> & RecentBlockhash,
): SignedTransfer {
  return signInstructions(treasury, buildTransferInstructions({ ...p, from: treasury.publicKey }), p);
}

/** Signs `instructions` with `payer` as fee payer over a given blockhash; nothing is sent (see SignedTransfer). */
export function signInstructions(payer: Treasury, instructions: TransactionInstruction[], bh: RecentBlockhash): SignedTransfer {
  const tx = new Transaction({
    feePayer: new PublicKey(payer.publicKey),
    blockhash: bh.blockhash,
    lastValidBlockHeight: bh.lastValidBlockHeight,
  }).add(...instructions);
  payer.signTransaction(tx);
  if (!tx.signature) throw new ChainError('signing produced no signature');
  return {
    signature: bs58.encode(tx.signature),
    serialized: tx.serialize().toString('base64'),
    blockhash: bh.blockhash,
    lastValidBlockHeight: bh.lastValidBlockHeight,
  };
}

export type SendFailureKind = 'blockhash-not-found' | 'already-processed' | 'simulation-failed' | 'rejected' | 'transport';

export class ChainSendError extends Error {
  constructor(
    message: string,
    readonly kind: SendFailureKind,
    readonly logs: string[],
  ) {
    super(message);
    this.name = 'ChainSendError';
  }
}

/**
 * Sends already-signed wire bytes (base64) and returns the signature. Failures are classified so an outbox
 * can tell "never landed, blockhash gone" from "already landed" from "would fail on chain".
 */
export async function sendRaw(connection: Connection, serialized: string, opts: { skipPreflight?: boolean } = {}): Promise<string> {
  try {
    return await connection.sendEncodedTransaction(serialized, {
      skipPreflight: opts.skipPreflight ?? false,
      preflightCommitment: 'confirmed',
      // Resending is the caller's job (same bytes, same signature); RPC-side retries would hide expiry.
      maxRetries: 0,
    });
  } catch (e) {
    if (e instanceof SendTransactionError) {
      const message = e.message;
      const logs = e.logs ?? [];
      const kind: SendFailureKind = /blockhash not found/i.test(message)
        ? 'blockhash-not-found'
        : /already been processed/i.test(message)
          ? 'already-processed'
          : /simulation failed/i.test(message)
            ? 'simulation-failed'
            : 'rejected';
      throw new ChainSendError(message, kind, logs);
    }
    throw new ChainSendError((e as Error).message, 'transport', []);
  }
}

export type SignatureStatus =
  | { status: 'not-found' }
  | { status: 'processed' | 'confirmed' | 'finalized'; slot: number; err: unknown };

export async function getSignatureStatus(connection: Connection, signature: string): Promise<SignatureStatus> {
  const { value } = await connection.getSignatureStatus(signature, { searchTransactionHistory: true });
  if (!value) return { status: 'not-found' };
  return { status: value.confirmationStatus ?? (value.confirmations === null ? 'finalized' : 'confirmed'), slot: value.slot, err: value.err };
}

export async function isBlockhashValid(connection: Connection, blockhash: string): Promise<boolean> {
  const { value } = await connection.isBlockhashValid(blockhash, { commitment: 'confirmed' });
  return value;
}

export async function getBlockHeight(connection: Connection): Promise<number> {
  return connection.getBlockHeight('confirmed');
}

export type ConfirmOutcome = { status: 'confirmed'; err: unknown } | { status: 'expired' };

/** Waits (websocket subscription) until the signature confirms or its blockhash's block height passes. */
export async function confirmSignature(
  connection: Connection,
  p: { signature: string } & RecentBlockhash,
  commitment: ChainCommitment = 'confirmed',
): Promise<ConfirmOutcome> {
  try {
    const { value } = await connection.confirmTransaction(
      { signature: p.signature, blockhash: p.blockhash, lastValidBlockHeight: p.lastValidBlockHeight },
      commitment,
    );
    return { status: 'confirmed', err: value.err };
  } catch (e) {
    if (e instanceof TransactionExpiredBlockheightExceededError) return { status: 'expired' };
    throw e;
  }
}

/** SOL balance in lamports. */
export async function getLamports(connection: Connection, owner: string): Promise<bigint> {
  return BigInt(await connection.getBalance(new PublicKey(owner), 'confirmed'));
}

/** Sum of `owner`'s token accounts for the mint, in base units. */
export async function getTokenBalance(connection: Connection, owner: string, mint: string): Promise<bigint> {
  const { value } = await connection.getParsedTokenAccountsByOwner(new PublicKey(owner), { mint: new PublicKey(mint) }, 'confirmed');
  let total = 0n;
  for (const { account } of value) {
    const amount: unknown = (account.data.parsed as { info?: { tokenAmount?: { amount?: unknown } } }).info?.tokenAmount?.amount;
    if (typeof amount === 'string') total += BigInt(amount);
  }
  return total;
}
