import { createPublicKey, randomBytes, verify as nodeVerify } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519';
import bs58 from 'bs58';
import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import { isStrictPoint, verifyEd25519, walletPublicKey } from './wallet-crypto';
import { challenge, concat, forgeForZeroKey, fromLe, hex, L, le32, mod, Point, torsion } from './wallet-crypto.testing';

/*
 * verifyEd25519 must follow verify_strict (ed25519-dalek). The independent reference is @noble/curves with
 * ZIP-215 off (canonical A and R, S < L, A not of small order) plus dalek's one extra rule that noble's strict
 * mode lacks: R must not be of small order either.
 */
const P = 2n ** 255n - 19n;

function isSmallOrderR(sig: Uint8Array): boolean {
  try {
    return Point.fromBytes(sig.subarray(0, 32), false).isSmallOrder();
  } catch {
    return false;
  }
}
const reference = (msg: Uint8Array, sig: Uint8Array, pub: Uint8Array) =>
  ed25519.verify(sig, msg, pub, { zip215: false }) && !isSmallOrderR(sig);

/** A key pair with its secret scalar, so tests can build signatures with any R they like. */
function keyPair() {
  const secretKey = ed25519.utils.randomSecretKey();
  const { scalar, pointBytes } = ed25519.utils.getExtendedPublicKey(secretKey);
  return { secretKey, scalar, pub: pointBytes };
}

/** Every 32-byte string with y ≥ p (the only non-canonical y values: p … p + 18), with both sign bits. */
const nonCanonicalY = Array.from({ length: 19 }, (_, i) => le32(P + BigInt(i))).flatMap((b) => {
  const signed = Uint8Array.from(b);
  signed[31]! |= 0x80;
  return [b, signed];
});

/** The x = 0 points (identity, order 2) with the sign bit set: y < p but still not the canonical encoding. */
const signBitVariants = [le32(1n), le32(P - 1n)].map((b) => {
  const v = Uint8Array.from(b);
  v[31]! |= 0x80;
  return v;
});

interface Case {
  name: string;
  msg: Uint8Array;
  sig: Uint8Array;
  pub: Uint8Array;
}

function cases(): Case[] {
  const out: Case[] = [];
  const msg = new TextEncoder().encode('bot.example.com wants you to sign in with your Solana account');

  // Random valid signatures from two independent signers.
  for (let i = 0; i < 24; i++) {
    const m = randomBytes(i * 7);
    const k = keyPair();
    out.push({ name: `noble valid #${i}`, msg: m, sig: ed25519.sign(m, k.secretKey), pub: k.pub });
    const kp = nacl.sign.keyPair();
    out.push({ name: `tweetnacl valid #${i}`, msg: m, sig: nacl.sign.detached(m, kp.secretKey), pub: kp.publicKey });
  }

  const k = keyPair();
  const good = ed25519.sign(msg, k.secretKey);
  const s = fromLe(good.subarray(32));

  // Mixed: a valid signature with one part swapped or tampered.
  const other = keyPair();
  out.push({ name: 'valid sig, other key', msg, sig: good, pub: other.pub });
  out.push({ name: 'R of another signature', msg, sig: concat(ed25519.sign(msg, other.secretKey).subarray(0, 32), good.subarray(32)), pub: k.pub });
  out.push({ name: 'flipped bit in S', msg, sig: concat(good.subarray(0, 32), le32(s ^ 1n)), pub: k.pub });
  out.push({ name: 'other message', msg: concat(msg, new Uint8Array([0x21])), sig: good, pub: k.pub });

  // Non-canonical S: S + L (same value mod L, so a non-strict verifier accepts it), S = L, S = 2^256 − 1.
  out.push({ name: 'S = s + L', msg, sig: concat(good.subarray(0, 32), le32(s + L)), pub: k.pub });
  out.push({ name: 'S = s + 15L', msg, sig: concat(good.subarray(0, 32), le32(s + 15n * L)), pub: k.pub });
  out.push({ name: 'S = L', msg, sig: concat(good.subarray(0, 32), le32(L)), pub: k.pub });
  out.push({ name: 'S = 2^256 − 1', msg, sig: concat(good.subarray(0, 32), new Uint8Array(32).fill(0xff)), pub: k.pub });
  out.push({ name: 'S = L − 1 (canonical, wrong)', msg, sig: concat(good.subarray(0, 32), le32(L - 1n)), pub: k.pub });

  // Small-order (and non-canonical small-order) points as A, with forged signatures R = T, S = 0 for every T.
  for (const a of [...torsion, ...signBitVariants, le32(P), le32(P + 1n)]) {
    for (const r of torsion) out.push({ name: `small-order A ${hex(a)}, R ${hex(r)}, S = 0`, msg, sig: concat(r, new Uint8Array(32)), pub: a });
    out.push({ name: `small-order A ${hex(a)}, random sig`, msg, sig: randomBytes(64), pub: a });
  }

  // Small-order R with an honest key: S = k·a makes [S]B − [k]A the identity, so R = O satisfies even the
  // cofactorless equation, and any torsion R satisfies the cofactored one.
  for (const r of [...torsion, ...signBitVariants]) {
    const sig = concat(r, le32(mod(challenge(r, k.pub, msg) * k.scalar, L)));
    out.push({ name: `small-order R ${hex(r)}`, msg, sig, pub: k.pub });
  }

  // Non-canonical y (≥ p) as A and as R.
  for (const enc of nonCanonicalY) {
    out.push({ name: `non-canonical A ${hex(enc)}`, msg, sig: good, pub: enc });
    const sig = concat(enc, le32(mod(challenge(enc, k.pub, msg) * k.scalar, L)));
    out.push({ name: `non-canonical R ${hex(enc)}`, msg, sig, pub: k.pub });
  }
  return out;
}

describe('strict Ed25519 agrees with @noble/curves (zip215: false) + small-order R', () => {
  it('the small-order list is exactly the torsion points plus the x = 0 sign-bit variants', () => {
    for (const t of torsion) expect(isStrictPoint(t)).toBe(false);
    for (const v of signBitVariants) {
      expect(isStrictPoint(v)).toBe(false);
      expect(Point.fromBytes(v, true).isSmallOrder()).toBe(true);
    }
    expect(new Set(torsion.map(hex)).size).toBe(8);
    for (let i = 0; i < 50; i++) expect(isStrictPoint(keyPair().pub)).toBe(true);
    for (const enc of nonCanonicalY) expect(isStrictPoint(enc)).toBe(false);
  });

  it('identical verdicts on every generated edge case', () => {
    const all = cases();
    const verdicts = { accepted: 0, rejected: 0 };
    for (const c of all) {
      const expected = reference(c.msg, c.sig, c.pub);
      expect({ case: c.name, verdict: verifyEd25519(c.msg, c.sig, c.pub) }).toEqual({ case: c.name, verdict: expected });
      verdicts[expected ? 'accepted' : 'rejected']++;
    }
    expect(verdicts.accepted).toBe(48);
    expect(verdicts.rejected).toBeGreaterThan(150);
  });

  it('the checks matter: non-strict verifiers accept some of these cases', () => {
    const all = cases();
    const lax = (c: Case) => ed25519.verify(c.sig, c.msg, c.pub, { zip215: true });
    // S + L and torsion R pass ZIP-215 rules; verify_strict refuses them.
    expect(all.filter((c) => /S = s \+ L|small-order R/.test(c.name) && lax(c)).length).toBeGreaterThan(5);
    // OpenSSL alone accepts R = identity with S = k·a (the cofactorless equation holds).
    const identityR = all.find((c) => c.name === `small-order R ${hex(torsion[0]!)}`)!;
    const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(identityR.pub).toString('base64url') }, format: 'jwk' });
    expect(nodeVerify(null, identityR.msg, key, identityR.sig)).toBe(true);
    expect(verifyEd25519(identityR.msg, identityR.sig, identityR.pub)).toBe(false);
  });
});

describe('the all-zero address', () => {
  it('OpenSSL alone accepts a forged signature for it; verifyEd25519 and walletPublicKey refuse it', () => {
    const zero = new Uint8Array(32);
    let forged: { msg: Uint8Array; sig: Uint8Array } | undefined;
    for (let i = 0; !forged && i < 64; i++) {
      const msg = new TextEncoder().encode(`link message ${i}`);
      const sig = forgeForZeroKey(msg);
      if (sig) forged = { msg, sig };
    }
    expect(forged).toBeDefined();
    const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(zero).toString('base64url') }, format: 'jwk' });
    expect(nodeVerify(null, forged!.msg, key, forged!.sig)).toBe(true);
    expect(verifyEd25519(forged!.msg, forged!.sig, zero)).toBe(false);
    expect(() => walletPublicKey(bs58.encode(zero))).toThrow(/not a usable Ed25519 public key/);
    expect(() => walletPublicKey('11111111111111111111111111111111')).toThrow(expect.objectContaining({ code: 'WEAK_ADDRESS' }));
    const real = nacl.sign.keyPair().publicKey;
    expect(Buffer.from(walletPublicKey(bs58.encode(real)))).toEqual(Buffer.from(real));
  });
});
