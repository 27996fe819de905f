import bs58 from 'bs58';
import type { AccountEncoding } from './account-codec';
import { parseCommitment, type Commitment } from './ledger-state';
import { invalidParams } from './rpc-json';

/** Positional JSON-RPC params, as every Solana method takes them. */
export type Params = unknown[];

export function str(p: Params, i: number, name: string): string {
  const v = p[i];
  if (typeof v !== 'string') throw invalidParams(`expected ${name} string at position ${i}`);
  return v;
}

export function pubkey(p: Params, i: number): string {
  const v = str(p, i, 'pubkey');
  let bytes: Uint8Array;
  try {
    bytes = bs58.decode(v);
  } catch {
    throw invalidParams('Invalid param: Invalid');
  }
  if (bytes.length !== 32) throw invalidParams('Invalid param: WrongSize');
  return v;
}

export function cfg(p: Params, i: number): Record<string, unknown> {
  const v = p[i];
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

export function accountEncoding(value: unknown, fallback: AccountEncoding): AccountEncoding {
  if (value === undefined || value === null) return fallback;
  if (value === 'base58' || value === 'base64' || value === 'jsonParsed') return value;
  if (value === 'binary') return 'base58';
  throw invalidParams(`unsupported encoding ${String(value)}`);
}

export function dataSlice(value: unknown): { offset: number; length: number } | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const { offset, length } = value as { offset?: unknown; length?: unknown };
  return { offset: Number(offset ?? 0), length: Number(length ?? 0) };
}

export function decodeWire(text: string, encoding: unknown, fallback: 'base58' | 'base64'): Uint8Array {
  const enc = encoding ?? fallback;
  try {
    if (enc === 'base64') return new Uint8Array(Buffer.from(text, 'base64'));
    if (enc === 'base58') return bs58.decode(text);
  } catch {
    throw invalidParams(`invalid ${String(enc)} transaction`);
  }
  throw invalidParams(`unsupported encoding ${String(enc)}`);
}

// getTransaction / getSignaturesForAddress refuse `processed` on a real node; treat it as `confirmed`.
export function atLeastConfirmed(value: unknown): Commitment {
  const c = parseCommitment(value);
  return c === 'processed' ? 'confirmed' : c;
}
