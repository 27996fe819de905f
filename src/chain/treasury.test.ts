import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import bs58 from 'bs58';
import { Keypair } from '@solana/web3.js';
import { describe, expect, it } from 'vitest';
import { loadTreasury, parseTreasurySecret, TreasuryKeyError } from './treasury';

describe('treasury', () => {
  const kp = Keypair.generate();
  const json = JSON.stringify(Array.from(kp.secretKey));
  const base58 = bs58.encode(kp.secretKey);

  it('loads from a JSON keypair file, a JSON string and a base58 string', () => {
    const dir = mkdtempSync(join(tmpdir(), 'treasury-'));
    const file = join(dir, 'id.json');
    writeFileSync(file, json);
    expect(loadTreasury({ keypairPath: file }).publicKey).toBe(kp.publicKey.toBase58());
    expect(loadTreasury({ secret: json }).publicKey).toBe(kp.publicKey.toBase58());
    expect(parseTreasurySecret(base58).publicKey).toBe(kp.publicKey.toBase58());
  });

  it('never reveals the secret when logged or serialized', () => {
    const t = parseTreasurySecret(json);
    const shown = [inspect(t), String(t), JSON.stringify(t), JSON.stringify({ t }), inspect({ nested: t }, { depth: 5 })].join('\n');
    expect(shown).toContain(kp.publicKey.toBase58());
    expect(shown).not.toContain(base58);
    expect(shown).not.toContain(String(kp.secretKey[0]) + ',' + String(kp.secretKey[1]));
    expect(Object.keys(t)).toEqual(['publicKey']);
  });

  it('rejects bad input without echoing it', () => {
    const wrong = Array.from(kp.secretKey);
    wrong[40] = (wrong[40]! + 1) % 256;
    const cases = ['', '[1,2,3]', '[1,2', 'not-base58-0OIl', JSON.stringify(wrong), bs58.encode(kp.secretKey.slice(0, 32))];
    for (const c of cases) {
      let error: unknown;
      try {
        if (c === '') loadTreasury({});
        else parseTreasurySecret(c);
      } catch (e) {
        error = e;
      }
      expect(error, c).toBeInstanceOf(TreasuryKeyError);
      if (c.length > 10) expect((error as Error).message).not.toContain(c);
    }
    expect(() => loadTreasury({ keypairPath: '/nonexistent/id.json' })).toThrow(TreasuryKeyError);
  });
});
