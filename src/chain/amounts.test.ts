import { describe, expect, it } from 'vitest';
import { AmountFormatError, formatBaseUnits, parseDecimalAmount } from './amounts';

describe('amounts', () => {
  it('formats base units exactly', () => {
    expect(formatBaseUnits(1_250_000n, 6)).toBe('1.25');
    expect(formatBaseUnits(1n, 9)).toBe('0.000000001');
    expect(formatBaseUnits(3_000_000_000n, 9)).toBe('3');
    expect(formatBaseUnits(0n, 6)).toBe('0');
    expect(formatBaseUnits(42n, 0)).toBe('42');
    expect(formatBaseUnits(18_446_744_073_709_551_615n, 9)).toBe('18446744073.709551615');
    expect(formatBaseUnits(-5n, 2)).toBe('-0.05');
  });

  it('parses decimal strings exactly', () => {
    expect(parseDecimalAmount('1.25', 6)).toBe(1_250_000n);
    expect(parseDecimalAmount('0.1', 9)).toBe(100_000_000n);
    expect(parseDecimalAmount('18446744073.709551615', 9)).toBe(18_446_744_073_709_551_615n);
    expect(parseDecimalAmount('7', 0)).toBe(7n);
    expect(parseDecimalAmount('1.500', 1)).toBe(15n);
    expect(parseDecimalAmount(' 2 ', 2)).toBe(200n);
  });

  it('rejects malformed or over-precise input', () => {
    for (const bad of ['', '-1', '1e3', '.5', '1.', 'abc', '1,5', '0x10']) {
      expect(() => parseDecimalAmount(bad, 6), bad).toThrow(AmountFormatError);
    }
    expect(() => parseDecimalAmount('0.0000001', 6)).toThrow(/decimal places/);
    expect(() => formatBaseUnits(1n, -1)).toThrow(AmountFormatError);
  });

  it('round-trips', () => {
    for (const [n, d] of [[123456789n, 9], [1n, 6], [1000n, 3], [99n, 2]] as const) {
      expect(parseDecimalAmount(formatBaseUnits(n, d), d)).toBe(n);
    }
  });
});
