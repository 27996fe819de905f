// Test helpers only (imports the @noble/curves devDependency): Ed25519 arithmetic independent of node:crypto, for
// building the signatures a strict verifier must refuse.
import { ed25519 } from '@noble/curves/ed25519';

export const Point = ed25519.Point;
export const L = ed25519.CURVE.n;

export const le32 = (x: bigint) => {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = Number((x >> BigInt(8 * i)) & 0xffn);
  return out;
};
export const fromLe = (b: Uint8Array) => b.reduceRight((acc, byte) => (acc << 8n) | BigInt(byte), 0n);
export const mod = (x: bigint, m: bigint) => ((x % m) + m) % m;
export const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
export const concat = (...parts: Uint8Array[]) => Uint8Array.from(Buffer.concat(parts));

/** k = SHA-512(R ‖ A ‖ M) mod L, hashed by noble. */
export function challenge(r: Uint8Array, a: Uint8Array, msg: Uint8Array): bigint {
  return mod(fromLe(ed25519.CURVE.hash(concat(r, a, msg))), L);
}

/** The 8 points of order dividing 8, canonically encoded, derived from one order-8 point. */
export const torsion: readonly Uint8Array[] = (() => {
  const t8 = Point.fromHex('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a');
  const points = [];
  let q = Point.ZERO;
  for (let i = 0; i < 8; i++, q = q.add(t8)) points.push(q.toBytes());
  return points;
})();

/**
 * A signature by the all-zero key (order 4) that a cofactorless verifier without small-order checks accepts:
 * S = 0 and R = −[k]A, tried for each torsion point as R (k depends on R). About 2 in 3 messages have one.
 */
export function forgeForZeroKey(msg: Uint8Array): Uint8Array | undefined {
  const zero = new Uint8Array(32);
  const a = Point.fromBytes(zero, true);
  for (const r of torsion) {
    const k = challenge(r, zero, msg);
    const expected = k === 0n ? Point.ZERO : a.multiplyUnsafe(k).negate();
    if (hex(expected.toBytes()) === hex(r)) return concat(r, new Uint8Array(32));
  }
  return undefined;
}
