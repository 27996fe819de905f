import { describe, expect, it } from 'vitest';
import { ConfigError, DEVNET_USDC_MINT, parseConfig } from '../../config';
import { UserError } from '../../errors';
import { Currencies } from './currencies';
import { LedgerService } from './ledger.service';

describe('ledger currencies from config', () => {
  it('defaults to SOL plus devnet USDC', () => {
    const c = Currencies.fromConfig(parseConfig({}));
    expect(c.all).toEqual([
      { code: 'SOL', decimals: 9, mint: null },
      { code: 'USDC', decimals: 6, mint: DEVNET_USDC_MINT },
    ]);
    expect(c.get(' usdc ').code).toBe('USDC');
    expect(c.get(null).code).toBe('SOL');
    expect(() => c.get('BTC')).toThrow(UserError);
    expect(c.format(1_234_500n, 'USDC')).toBe('1.2345 USDC');
  });

  it('parses LEDGER_TOKENS and names the bad entry', () => {
    const mint = 'DezXAZ8z7PnrnRJjz3wXBoRgixCa6xjnB7YaB1pPB263';
    expect(parseConfig({ LEDGER_TOKENS: `BONK:${mint}:5` }).LEDGER_TOKENS).toEqual([{ code: 'BONK', mint, decimals: 5 }]);
    for (const [value, message] of [
      ['USDC:not-a-mint:6', /"USDC:not-a-mint:6" is not CODE:MINT:DECIMALS/],
      [`SOL:${mint}:9`, /SOL is built in/],
      [`BONK:${mint}:5,BONK:${mint}:5`, /listed twice/],
      [`BONK:${mint}:19`, /decimals 0-18/],
    ] as const) {
      let err: unknown;
      try {
        parseConfig({ LEDGER_TOKENS: value });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).issues.join('\n')).toMatch(/LEDGER_TOKENS/);
      expect((err as ConfigError).issues.join('\n')).toMatch(message);
    }
  });

  it('TIP_CONFIRM_ABOVE must name known currencies with valid amounts', () => {
    expect(parseConfig({ TIP_CONFIRM_ABOVE: 'SOL:2.5' }).TIP_CONFIRM_ABOVE).toEqual({ SOL: '2.5' });
    expect(() => parseConfig({ TIP_CONFIRM_ABOVE: 'SOL=2' })).toThrow(/TIP_CONFIRM_ABOVE/);
    expect(() => new LedgerService(undefined as never, parseConfig({ TIP_CONFIRM_ABOVE: 'DOGE:1' }))).toThrow(/Unknown currency "DOGE"/);
    expect(() => new LedgerService(undefined as never, parseConfig({ TIP_CONFIRM_ABOVE: 'USDC:0.0000001' }))).toThrow(/at most 6 decimals/);
  });
});
