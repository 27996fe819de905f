import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import bs58 from 'bs58';
import { Keypair, type Transaction, type VersionedTransaction } from '@solana/web3.js';

export class TreasuryKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TreasuryKeyError';
  }
}

/**
 * The bot's hot wallet. The secret key never leaves this object: only the public key is readable, and
 * logging / serializing the object prints the public key alone.
 */
export class Treasury {
  readonly #keypair: Keypair;
  readonly publicKey: string;

  private constructor(keypair: Keypair) {
    this.#keypair = keypair;
    this.publicKey = keypair.publicKey.toBase58();
  }

  /** @internal for src/chain only: signs in place. */
  signTransaction(tx: Transaction): void {
    tx.partialSign(this.#keypair);
  }

  /** @internal for src/chain only. */
  signVersioned(tx: VersionedTransaction): void {
    tx.sign([this.#keypair]);
  }

  /** @internal for src/chain only: a key derived from the secret for one purpose (HMAC-SHA256), never the secret. */
  derivedKey(purpose: string): Buffer {
    return createHmac('sha256', this.#keypair.secretKey).update(purpose).digest();
  }

  toJSON(): { publicKey: string } {
    return { publicKey: this.publicKey };
  }

  toString(): string {
    return `Treasury(${this.publicKey})`;
  }

  [inspect.custom](): string {
    return this.toString();
  }

  static fromSecretKey(secret: Uint8Array): Treasury {
    if (secret.length !== 64) throw new TreasuryKeyError(`treasury secret key must be 64 bytes, got ${secret.length}`);
    try {
      return new Treasury(Keypair.fromSecretKey(secret));
    } catch {
      // The underlying message could echo key material; replace it.
      throw new TreasuryKeyError('treasury secret key is invalid (public half does not match)');
    }
  }
}

/** Parses a secret key given as a JSON byte array (solana-keygen format) or a base58 string. */
export function parseTreasurySecret(text: string): Treasury {
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) {
    let bytes: unknown;
    try {
      bytes = JSON.parse(trimmed);
    } catch {
      throw new TreasuryKeyError('treasury key looks like JSON but does not parse');
    }
    if (!Array.isArray(bytes) || !bytes.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) {
      throw new TreasuryKeyError('treasury key JSON must be an array of bytes');
    }
    return Treasury.fromSecretKey(Uint8Array.from(bytes as number[]));
  }
  let decoded: Uint8Array;
  try {
    decoded = bs58.decode(trimmed);
  } catch {
    throw new TreasuryKeyError('treasury key is neither a JSON byte array nor base58');
  }
  return Treasury.fromSecretKey(decoded);
}

/**
 * Loads the treasury from exactly one source: a keypair file (JSON byte array, as written by solana-keygen)
 * or an inline secret (JSON array or base58), both coming from config.
 */
export function loadTreasury(source: { keypairPath?: string; secret?: string }): Treasury {
  if (source.keypairPath && source.secret) throw new TreasuryKeyError('give either a keypair file or an inline secret, not both');
  if (source.keypairPath) {
    let text: string;
    try {
      text = readFileSync(source.keypairPath, 'utf8');
    } catch (e) {
      throw new TreasuryKeyError(`cannot read treasury keypair file ${source.keypairPath}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    return parseTreasurySecret(text);
  }
  if (source.secret) return parseTreasurySecret(source.secret);
  throw new TreasuryKeyError('no treasury key configured');
}

/** A new random treasury, e.g. for the sandbox; returns the secret once so the caller can persist it. */
export function generateTreasury(): { treasury: Treasury; secretJson: string } {
  const kp = Keypair.generate();
  return { treasury: Treasury.fromSecretKey(kp.secretKey), secretJson: JSON.stringify(Array.from(kp.secretKey)) };
}
