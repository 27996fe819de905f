import { createPublicKey, verify } from 'node:crypto';
import bs58 from 'bs58';
import { UserError } from '../../errors';

const BASE58 = /^[1-9A-HJ-NP-Za-km-z]+$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const BASE64URL = /^[A-Za-z0-9_-]+={0,2}$/;
const HEX = /^(0x)?[0-9a-fA-F]+$/;

/** A Solana address: base58 of a 32-byte Ed25519 public key. */
export function decodeAddress(input: string): Uint8Array {
  const s = input.trim();
  if (s === '' || !BASE58.test(s)) {
    throw new UserError('INVALID_ADDRESS', 'That is not a Solana address: it must be base58 (no 0, O, I or l).');
  }
  const bytes = bs58.decode(s);
  if (bytes.length !== 32) {
    throw new UserError('INVALID_ADDRESS', `That is not a Solana address: it decodes to ${bytes.length} bytes, not 32.`);
  }
  return bytes;
}

/** Canonical base58 form (rejects e.g. leading-zero padding variants by round-tripping). */
export function canonicalAddress(input: string): string {
  return bs58.encode(decodeAddress(input));
}

/**
 * A 64-byte Ed25519 signature in base58 (Solana wallets), base64/base64url (browser wallets, tools) or hex.
 * Returns every 64-byte reading of the input: a string can in rare cases be valid in two encodings, and the
 * caller accepts the signature if any reading verifies.
 */
export function decodeSignature(input: string): Uint8Array[] {
  const s = input.trim();
  if (s === '') throw new UserError('INVALID_SIGNATURE', 'The signature is empty.');
  const readings: Uint8Array[] = [];
  if (BASE58.test(s)) readings.push(bs58.decode(s));
  if (HEX.test(s) && s.replace(/^0x/, '').length % 2 === 0) readings.push(Buffer.from(s.replace(/^0x/, ''), 'hex'));
  if (BASE64.test(s) || BASE64URL.test(s)) {
    const b64 = s.replace(/-/g, '+').replace(/_/g, '/');
    // Node's decoder skips invalid characters silently; require a clean round trip instead.
    const bytes = Buffer.from(b64, 'base64');
    if (bytes.toString('base64').replace(/=+$/, '') === b64.replace(/=+$/, '')) readings.push(bytes);
  }
  if (readings.length === 0) {
    throw new UserError('INVALID_SIGNATURE', 'The signature is not valid base58 or base64.');
  }
  const sized = readings.filter((r) => r.length === 64);
  if (sized.length === 0) {
    const lengths = [...new Set(readings.map((r) => r.length))].join(' or ');
    throw new UserError('INVALID_SIGNATURE', `The signature must be 64 bytes; it decodes to ${lengths} bytes.`);
  }
  return sized;
}

/** Ed25519 verification with node:crypto (OpenSSL). Returns false for any bad key or signature, never throws. */
export function verifyEd25519(message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): boolean {
  if (signature.length !== 64 || publicKey.length !== 32) return false;
  try {
    // Every key differs, so the key is imported per call. The JWK import builds the key directly from its 32 bytes,
    // while SPKI DER goes through OpenSSL's generic decoder: ~7,300 vs ~4,900 verifies/s on one core here.
    const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKey).toString('base64url') }, format: 'jwk' });
    return verify(null, message, key, signature);
  } catch {
    // Bytes that are not a point on the curve cannot have signed anything.
    return false;
  }
}

const OFFCHAIN_SIGNING_DOMAIN = Buffer.concat([Buffer.from([0xff]), Buffer.from('solana offchain', 'ascii')]);
const OFFCHAIN_V0_MAX_LIMITED = 1212;

/**
 * Solana's off-chain message envelope, version 0 (what `solana sign-offchain-message` signs): signing domain,
 * version, format (0 printable ASCII, 1 UTF-8 up to 1212 bytes, 2 longer UTF-8), u16 LE length, message.
 */
export function offchainMessageV0(message: Uint8Array): Uint8Array {
  if (message.length > 0xffff) throw new Error('off-chain message too long');
  const printableAscii = message.every((b) => b >= 0x20 && b <= 0x7e);
  const format = printableAscii ? 0 : message.length <= OFFCHAIN_V0_MAX_LIMITED ? 1 : 2;
  const header = Buffer.alloc(4);
  header.writeUInt8(0, 0);
  header.writeUInt8(format, 1);
  header.writeUInt16LE(message.length, 2);
  return Buffer.concat([OFFCHAIN_SIGNING_DOMAIN, header, message]);
}
