import { randomBytes } from 'node:crypto';
import bs58 from 'bs58';
import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import { decodeAddress, decodeSignature, offchainMessageV0, verifyEd25519 } from './wallet-crypto';

// RFC 8032 §7.1 test vectors (secret seed, public key, message, signature).
const RFC8032 = [
  {
    seed: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    pub: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    msg: '',
    sig: 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  },
  {
    seed: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    pub: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    msg: '72',
    sig: '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  },
  {
    seed: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    pub: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    msg: 'af82',
    sig: '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
  },
];

const hex = (s: string) => Buffer.from(s, 'hex');

describe('verifyEd25519 (node:crypto) agrees with tweetnacl', () => {
  it('RFC 8032 vectors: both libraries derive the same key and signature, and both verify', () => {
    for (const v of RFC8032) {
      const kp = nacl.sign.keyPair.fromSeed(hex(v.seed));
      expect(Buffer.from(kp.publicKey).toString('hex')).toBe(v.pub);
      expect(Buffer.from(nacl.sign.detached(hex(v.msg), kp.secretKey)).toString('hex')).toBe(v.sig);
      expect(nacl.sign.detached.verify(hex(v.msg), hex(v.sig), hex(v.pub))).toBe(true);
      expect(verifyEd25519(hex(v.msg), hex(v.sig), hex(v.pub))).toBe(true);
    }
  });

  it('random keys, messages and tampering: identical verdicts on every vector', () => {
    let checked = 0;
    for (let i = 0; i < 40; i++) {
      const kp = nacl.sign.keyPair();
      const msg = randomBytes(i % 300);
      const sig = nacl.sign.detached(msg, kp.secretKey);
      const variants: Array<[Uint8Array, Uint8Array, Uint8Array]> = [[msg, sig, kp.publicKey]];
      const badSig = Uint8Array.from(sig);
      badSig[i % 64]! ^= 1 << (i % 8);
      variants.push([msg, badSig, kp.publicKey]);
      if (msg.length > 0) {
        const badMsg = Buffer.from(msg);
        badMsg[i % msg.length]! ^= 0x80;
        variants.push([badMsg, sig, kp.publicKey]);
      }
      variants.push([msg, sig, nacl.sign.keyPair().publicKey]);
      for (const [m, s, k] of variants) {
        expect(verifyEd25519(m, s, k)).toBe(nacl.sign.detached.verify(m, s, k));
        checked++;
      }
      expect(verifyEd25519(msg, sig, kp.publicKey)).toBe(true);
    }
    expect(checked).toBeGreaterThan(150);
  });

  it('never throws on garbage keys or sizes', () => {
    const msg = Buffer.from('x');
    expect(verifyEd25519(msg, new Uint8Array(64), new Uint8Array(32).fill(0xff))).toBe(false);
    expect(verifyEd25519(msg, new Uint8Array(63), new Uint8Array(32))).toBe(false);
    expect(verifyEd25519(msg, new Uint8Array(64), new Uint8Array(31))).toBe(false);
  });
});

describe('decoding', () => {
  const kp = nacl.sign.keyPair();
  const sig = nacl.sign.detached(Buffer.from('hello'), kp.secretKey);

  it('addresses are base58 of exactly 32 bytes', () => {
    expect(Buffer.from(decodeAddress(bs58.encode(kp.publicKey)))).toEqual(Buffer.from(kp.publicKey));
    expect(() => decodeAddress('0OIl')).toThrow(/base58/);
    expect(() => decodeAddress(bs58.encode(randomBytes(31)))).toThrow(/31 bytes, not 32/);
    expect(() => decodeAddress('')).toThrow(/base58/);
  });

  it('signatures: base58, base64, base64url and hex all give the same 64 bytes', () => {
    const forms = [
      bs58.encode(sig),
      Buffer.from(sig).toString('base64'),
      Buffer.from(sig).toString('base64url'),
      Buffer.from(sig).toString('hex'),
    ];
    for (const f of forms) expect(decodeSignature(f).some((r) => Buffer.from(r).equals(Buffer.from(sig)))).toBe(true);
  });

  it('signatures: malformed and wrong length are rejected with the reason', () => {
    expect(() => decodeSignature('not a signature!')).toThrow(/not valid base58 or base64/);
    // 48 bytes: no reading of the text (base58 or base64) can come out at 64 bytes.
    expect(() => decodeSignature(bs58.encode(randomBytes(48)))).toThrow(/must be 64 bytes/);
    expect(() => decodeSignature(Buffer.from(randomBytes(65)).toString('base64'))).toThrow(/must be 64 bytes/);
    expect(() => decodeSignature('  ')).toThrow(/empty/);
  });

  it('off-chain message envelope v0: domain, version, format, little-endian length', () => {
    const ascii = offchainMessageV0(Buffer.from('hi'));
    expect(Buffer.from(ascii).toString('hex')).toBe(`${Buffer.from('\xffsolana offchain', 'latin1').toString('hex')}00000200${Buffer.from('hi').toString('hex')}`);
    const multiline = offchainMessageV0(Buffer.from('a\nb'));
    expect(multiline[17]).toBe(1);
  });
});
