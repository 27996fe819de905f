import { describe, expect, it } from 'vitest';
import { UserError } from '../../errors';
import { formatAmount, MAX_BASE_UNITS, parseAmount } from './amounts';

const SOL = { code: 'SOL', decimals: 9 };
const USDC = { code: 'USDC', decimals: 6 };
const WHOLE = { code: 'PTS', decimals: 0 };

function errorOf(input: string, unit = SOL): UserError {
  try {
    parseAmount(input, unit);
  } catch (err) {
    expect(err).toBeInstanceOf(UserError);
    return err as UserError;
  }
  throw new Error(`"${input}" parsed`);
}

describe('parseAmount', () => {
  it('parses plain decimals exactly, including a leading or trailing "."', () => {
    expect(parseAmount('1', SOL)).toBe(1_000_000_000n);
    expect(parseAmount('0.1', SOL)).toBe(100_000_000n);
    expect(parseAmount('.5', SOL)).toBe(500_000_000n);
    expect(parseAmount('2.', SOL)).toBe(2_000_000_000n);
    expect(parseAmount(' 0.000000001 ', SOL)).toBe(1n);
    expect(parseAmount('1.23', USDC)).toBe(1_230_000n);
    expect(parseAmount('007', WHOLE)).toBe(7n);
    // Would be 0.30000000000000004 through floats.
    expect(parseAmount('0.3', SOL) - parseAmount('0.1', SOL)).toBe(200_000_000n);
  });

  it('accepts up to u64::MAX base units and rejects one more', () => {
    expect(parseAmount('18446744073.709551615', SOL)).toBe(MAX_BASE_UNITS);
    const err = errorOf('18446744073.709551616');
    expect(err.message).toBe('That is too large — the most one transfer can move is 18446744073.709551615 SOL.');
    expect(errorOf('9'.repeat(60)).code).toBe('INVALID_AMOUNT');
  });

  it('names the max decimals of the currency', () => {
    expect(errorOf('0.0000000001').message).toBe('SOL has at most 9 decimals (got 10).');
    expect(errorOf('1.0000001', USDC).message).toBe('USDC has at most 6 decimals (got 7).');
    expect(errorOf('1.5', WHOLE).message).toBe('PTS has no decimals — use a whole number.');
  });

  it('rejects exponent notation with a plain-decimal hint', () => {
    for (const input of ['1e-9', '1E9', '2.5e3', '1e']) {
      expect(errorOf(input).message).toMatch(/exponent notation, which isn't accepted — write a plain decimal such as `0.000000001`/);
    }
  });

  it('rejects empty, zero, negative, signs, separators and garbage with specific messages', () => {
    expect(errorOf('').message).toBe('Enter an amount, e.g. `1.5`.');
    expect(errorOf('   ').message).toBe('Enter an amount, e.g. `1.5`.');
    expect(errorOf('0').message).toBe('The amount must be greater than zero.');
    expect(errorOf('0.000').message).toBe('The amount must be greater than zero.');
    expect(errorOf('-1').message).toBe('The amount must be positive.');
    expect(errorOf('+1').message).toBe('Write the amount without a sign, e.g. `1`.');
    expect(errorOf('1,000.5').message).toBe('Write the amount without thousands separators, e.g. `1000.5`.');
    for (const input of ['NaN', 'Infinity', 'abc', '1.2.3', '.', '0x10', '1 000', '1_000', '١']) {
      expect(errorOf(input).message).toMatch(/is not an amount — use digits and at most one "\."/);
    }
  });
});

describe('formatAmount', () => {
  it('formats base units without trailing zeros or exponent', () => {
    expect(formatAmount(1_500_000_000n, 9)).toBe('1.5');
    expect(formatAmount(1n, 9)).toBe('0.000000001');
    expect(formatAmount(0n, 9)).toBe('0');
    expect(formatAmount(10n ** 30n, 9)).toBe('1000000000000000000000');
    expect(formatAmount(-2_500_000n, 6)).toBe('-2.5');
    expect(formatAmount(42n, 0)).toBe('42');
  });

  it('round-trips with parseAmount', () => {
    for (const s of ['1', '0.1', '123.456789', '0.000001']) expect(formatAmount(parseAmount(s, USDC), 6)).toBe(s);
  });
});
