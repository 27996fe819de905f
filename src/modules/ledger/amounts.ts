import { formatBaseUnits } from '../../chain/amounts';
import { quote, quoteCode, UserError } from '../../errors';

/** "1.5" for 1_500_000_000n with 9 decimals; no trailing zeros, no exponent, sign kept (one formatter for the app). */
export const formatAmount = formatBaseUnits;

/**
 * Decimal strings ⇄ base units, with exact bigint math (never through a JS number).
 *
 * Accepted: plain decimals with an optional fraction — "1", "1.5", "0.1", ".5", "1." — and surrounding spaces.
 * Rejected with a specific message: exponent notation ("1e-9": silently mis-scaled amounts are how money goes
 * missing), signs, thousands separators, more fraction digits than the currency has, zero, and anything above
 * MAX_BASE_UNITS.
 */

/** u64::MAX: the largest amount a lamport or SPL token account can hold, so no single transfer may exceed it. */
export const MAX_BASE_UNITS = 2n ** 64n - 1n;

const PLAIN_DECIMAL = /^(?:\d+(?:\.\d*)?|\.\d+)$/;

export interface AmountUnit {
  code: string;
  decimals: number;
}

export function parseAmount(input: string, unit: AmountUnit): bigint {
  const text = input.trim();
  if (text === '') throw new UserError('INVALID_AMOUNT', 'Enter an amount, e.g. `1.5`.');
  if (/^[+-]/.test(text)) {
    if (text.startsWith('-')) throw new UserError('INVALID_AMOUNT', 'The amount must be positive.');
    throw new UserError('INVALID_AMOUNT', `Write the amount without a sign, e.g. ${quoteCode(text.slice(1), 40)}.`);
  }
  if (/^[\d.]*[eE][+-]?\d*$/.test(text) && /\d/.test(text)) {
    throw new UserError(
      'INVALID_AMOUNT',
      `${quote(text, 40)} uses exponent notation, which isn't accepted — write a plain decimal such as \`0.000000001\`.`,
    );
  }
  if (/^\d{1,3}(,\d{3})+(\.\d*)?$/.test(text)) {
    throw new UserError('INVALID_AMOUNT', `Write the amount without thousands separators, e.g. ${quoteCode(text.replaceAll(',', ''), 40)}.`);
  }
  if (!PLAIN_DECIMAL.test(text)) {
    throw new UserError('INVALID_AMOUNT', `${quote(text, 40)} is not an amount — use digits and at most one ".", e.g. \`1.5\`.`);
  }
  const [whole = '', fraction = ''] = text.split('.');
  if (fraction.length > unit.decimals) {
    throw new UserError(
      'INVALID_AMOUNT',
      unit.decimals === 0
        ? `${unit.code} has no decimals — use a whole number.`
        : `${unit.code} has at most ${unit.decimals} decimals (got ${fraction.length}).`,
    );
  }
  const value = BigInt((whole || '0') + fraction.padEnd(unit.decimals, '0'));
  if (value === 0n) throw new UserError('INVALID_AMOUNT', 'The amount must be greater than zero.');
  if (value > MAX_BASE_UNITS) {
    throw new UserError('INVALID_AMOUNT', `That is too large — the most one transfer can move is ${formatAmount(MAX_BASE_UNITS, unit.decimals)} ${unit.code}.`);
  }
  return value;
}
