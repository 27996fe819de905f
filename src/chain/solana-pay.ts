import { Keypair, PublicKey, type Connection, type ParsedTransactionWithMeta } from '@solana/web3.js';
import { formatBaseUnits, parseDecimalAmount, SOL_DECIMALS } from './amounts';
import type { ChainCommitment } from './connection';
import { MEMO_PROGRAM_ID } from './transfers';

export interface TransferRequest {
  recipient: string;
  /** Base units (lamports, or token base units with `decimals`). Omit to let the payer choose. */
  amount?: bigint;
  /** Required with `amount` for SPL; SOL always uses 9. */
  decimals?: number;
  splToken?: string;
  reference?: string | string[];
  label?: string;
  message?: string;
  memo?: string;
}

/**
 * A Solana Pay transfer-request URL:
 * `solana:<recipient>?amount=<decimal>&spl-token=<mint>&reference=<ref>&label=…&message=…&memo=…`.
 * The amount is printed from base units exactly (never via floating point).
 */
export function buildTransferRequestUrl(req: TransferRequest): string {
  assertPublicKey(req.recipient, 'recipient');
  const params: string[] = [];
  if (req.amount !== undefined) {
    if (req.amount < 0n) throw new Error('amount must not be negative');
    const decimals = req.splToken ? req.decimals : SOL_DECIMALS;
    if (decimals === undefined) throw new Error('decimals are required for an SPL token amount');
    params.push(`amount=${formatBaseUnits(req.amount, decimals)}`);
  }
  if (req.splToken) params.push(`spl-token=${assertPublicKey(req.splToken, 'splToken')}`);
  for (const r of toList(req.reference)) params.push(`reference=${assertPublicKey(r, 'reference')}`);
  if (req.label !== undefined) params.push(`label=${encodeURIComponent(req.label)}`);
  if (req.message !== undefined) params.push(`message=${encodeURIComponent(req.message)}`);
  if (req.memo !== undefined) params.push(`memo=${encodeURIComponent(req.memo)}`);
  return `solana:${req.recipient}${params.length ? `?${params.join('&')}` : ''}`;
}

export interface ParsedTransferRequest {
  recipient: string;
  /** The decimal string as written in the URL. */
  amount?: string;
  splToken?: string;
  references: string[];
  label?: string;
  message?: string;
  memo?: string;
}

export function parseTransferRequestUrl(url: string): ParsedTransferRequest {
  if (!url.startsWith('solana:')) throw new Error('not a solana: URL');
  const rest = url.slice('solana:'.length);
  const q = rest.indexOf('?');
  const recipient = decodeURIComponent(q === -1 ? rest : rest.slice(0, q));
  assertPublicKey(recipient, 'recipient');
  const out: ParsedTransferRequest = { recipient, references: [] };
  const query = q === -1 ? '' : rest.slice(q + 1);
  for (const pair of query.split('&').filter(Boolean)) {
    const eq = pair.indexOf('=');
    const key = eq === -1 ? pair : pair.slice(0, eq);
    const value = decodeURIComponent(eq === -1 ? '' : pair.slice(eq + 1));
    if (key === 'amount') out.amount = value;
    else if (key === 'spl-token') out.splToken = value;
    else if (key === 'reference') out.references.push(value);
    else if (key === 'label') out.label = value;
    else if (key === 'message') out.message = value;
    else if (key === 'memo') out.memo = value;
  }
  return out;
}

/** A fresh random reference key (base58) to make a payment findable on chain. */
export function newReference(): string {
  return Keypair.generate().publicKey.toBase58();
}

export type ReferenceLookup =
  | { status: 'not-found' }
  | {
      status: 'found';
      /** The oldest signature referencing the key (what Solana Pay's findReference returns). */
      signature: string;
      slot: number;
      err: unknown;
      /** All signatures seen, newest first (bounded by `limit`). */
      signatures: string[];
    };

/** Looks up transactions that include `reference` as an account key; "not-found" means "not yet". */
export async function findReference(
  connection: Connection,
  reference: string,
  opts: { until?: string; limit?: number; commitment?: Extract<ChainCommitment, 'confirmed' | 'finalized'> } = {},
): Promise<ReferenceLookup> {
  const infos = await connection.getSignaturesForAddress(
    new PublicKey(reference),
    { limit: opts.limit ?? 1000, ...(opts.until ? { until: opts.until } : {}) },
    opts.commitment ?? 'confirmed',
  );
  const oldest = infos[infos.length - 1];
  if (!oldest) return { status: 'not-found' };
  return { status: 'found', signature: oldest.signature, slot: oldest.slot, err: oldest.err, signatures: infos.map((i) => i.signature) };
}

export interface ExpectedTransfer {
  /** The wallet that must be credited (for SPL: the owner of the credited token account). */
  recipient: string;
  /** Base units. */
  amount: bigint;
  /** Omit for SOL. */
  mint?: string;
  reference?: string | string[];
  memo?: string;
  /** Accept more than `amount` (the valid result reports what was actually received). */
  allowOverpayment: boolean;
}

export type InvalidTransferReason =
  | 'reference-missing'
  | 'recipient-not-credited'
  | 'wrong-mint'
  | 'amount-too-low'
  | 'amount-too-high'
  | 'memo-mismatch';

export type TransferValidation =
  | { status: 'not-found' }
  | { status: 'failed'; signature: string; slot: number; err: unknown }
  | { status: 'invalid'; signature: string; slot: number; reason: InvalidTransferReason; received: bigint; detail: string }
  | { status: 'valid'; signature: string; slot: number; blockTime: number | null; received: bigint; payer: string | null };

/**
 * Checks a landed transaction against what we asked for, using only what the cluster recorded: the
 * recipient's balance change (pre/post lamports for SOL, pre/post token balances for SPL), never any
 * amount or account a client claims.
 */
export async function validateTransfer(
  connection: Connection,
  signature: string,
  expected: ExpectedTransfer,
  commitment: Extract<ChainCommitment, 'confirmed' | 'finalized'> = 'confirmed',
): Promise<TransferValidation> {
  const tx = await connection.getParsedTransaction(signature, { commitment, maxSupportedTransactionVersion: 0 });
  if (!tx || !tx.meta) return { status: 'not-found' };
  const slot = tx.slot;
  if (tx.meta.err !== null) return { status: 'failed', signature, slot, err: tx.meta.err };
  const invalid = (reason: InvalidTransferReason, received: bigint, detail: string): TransferValidation => ({
    status: 'invalid',
    signature,
    slot,
    reason,
    received,
    detail,
  });

  const keys = tx.transaction.message.accountKeys.map((k) => k.pubkey.toBase58());
  for (const ref of toList(expected.reference)) {
    if (!keys.includes(ref)) return invalid('reference-missing', 0n, `reference ${ref} is not an account of the transaction`);
  }

  const received = expected.mint ? tokenDelta(tx, expected.recipient, expected.mint) : lamportDelta(tx, keys, expected.recipient);
  if (received <= 0n) {
    if (expected.mint) {
      const otherMint = creditedMints(tx, expected.recipient).find((m) => m !== expected.mint);
      if (otherMint) return invalid('wrong-mint', 0n, `recipient was credited ${otherMint}, expected ${expected.mint}`);
    } else if (creditedMints(tx, expected.recipient).length > 0) {
      return invalid('wrong-mint', 0n, 'recipient was credited a token, expected SOL');
    }
    return invalid('recipient-not-credited', 0n, `${expected.recipient} received nothing`);
  }
  if (received < expected.amount) return invalid('amount-too-low', received, `received ${received}, expected ${expected.amount}`);
  if (received > expected.amount && !expected.allowOverpayment) {
    return invalid('amount-too-high', received, `received ${received}, expected exactly ${expected.amount}`);
  }
  if (expected.memo !== undefined) {
    const memos = tx.transaction.message.instructions.flatMap((ix) =>
      'parsed' in ix && ix.programId.toBase58() === MEMO_PROGRAM_ID && typeof ix.parsed === 'string' ? [ix.parsed] : [],
    );
    if (!memos.includes(expected.memo)) return invalid('memo-mismatch', received, `memo ${JSON.stringify(expected.memo)} not found`);
  }
  return { status: 'valid', signature, slot, blockTime: tx.blockTime ?? null, received, payer: keys[0] ?? null };
}

function lamportDelta(tx: ParsedTransactionWithMeta, keys: string[], recipient: string): bigint {
  const meta = tx.meta!;
  let total = 0n;
  keys.forEach((k, i) => {
    if (k !== recipient) return;
    total += BigInt(meta.postBalances[i] ?? 0) - BigInt(meta.preBalances[i] ?? 0);
    // A recipient paying its own fee would otherwise look short by the fee.
    if (i === 0) total += BigInt(meta.fee);
  });
  return total;
}

function tokenDelta(tx: ParsedTransactionWithMeta, owner: string, mint: string): bigint {
  const meta = tx.meta!;
  const byIndex = new Map<number, bigint>();
  for (const b of meta.preTokenBalances ?? []) {
    if (b.owner === owner && b.mint === mint) byIndex.set(b.accountIndex, (byIndex.get(b.accountIndex) ?? 0n) - BigInt(b.uiTokenAmount.amount));
  }
  for (const b of meta.postTokenBalances ?? []) {
    if (b.owner === owner && b.mint === mint) byIndex.set(b.accountIndex, (byIndex.get(b.accountIndex) ?? 0n) + BigInt(b.uiTokenAmount.amount));
  }
  let total = 0n;
  for (const d of byIndex.values()) total += d;
  return total;
}

function creditedMints(tx: ParsedTransactionWithMeta, owner: string): string[] {
  const mints = new Set<string>();
  for (const b of tx.meta?.postTokenBalances ?? []) {
    if (b.owner === owner && tokenDelta(tx, owner, b.mint) > 0n) mints.add(b.mint);
  }
  return [...mints];
}

function toList(v: string | string[] | undefined): string[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

function assertPublicKey(value: string, name: string): string {
  try {
    return new PublicKey(value).toBase58() === value ? value : fail();
  } catch {
    return fail();
  }
  function fail(): never {
    throw new Error(`${name} is not a valid base58 public key`);
  }
}

/** Parses a Solana Pay `amount` (decimal UI units) back to base units. */
export function transferRequestAmount(amount: string, decimals: number): bigint {
  return parseDecimalAmount(amount, decimals);
}
