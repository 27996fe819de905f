// Exact conversions between decimal strings ("1.25") and integer base units (1250000n at 6 decimals).
// No floating point anywhere: a float can't represent most decimal fractions and loses u64 precision.

const DECIMAL_RE = /^(\d+)(?:\.(\d+))?$/;

export class AmountFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AmountFormatError';
  }
}

/** Parses a non-negative decimal string into base units; rejects more fractional digits than `decimals`. */
export function parseDecimalAmount(text: string, decimals: number): bigint {
  assertDecimals(decimals);
  const match = DECIMAL_RE.exec(text.trim());
  if (!match) throw new AmountFormatError(`not a decimal amount: ${JSON.stringify(text)}`);
  const whole = match[1]!;
  const frac = (match[2] ?? '').replace(/0+$/, '');
  if (frac.length > decimals) throw new AmountFormatError(`more than ${decimals} decimal places: ${text}`);
  return BigInt(whole) * 10n ** BigInt(decimals) + BigInt(frac.padEnd(decimals, '0') || '0');
}

/** Formats base units as the shortest exact decimal string ("1.25", "0.000001", "3"). */
export function formatBaseUnits(amount: bigint, decimals: number): string {
  assertDecimals(decimals);
  const negative = amount < 0n;
  const abs = negative ? -amount : amount;
  const base = 10n ** BigInt(decimals);
  const frac = (abs % base).toString().padStart(decimals, '0').replace(/0+$/, '');
  return `${negative ? '-' : ''}${(abs / base).toString()}${frac ? `.${frac}` : ''}`;
}

export const SOL_DECIMALS = 9;
export const LAMPORTS_PER_SOL = 1_000_000_000n;

function assertDecimals(decimals: number): void {
  if (!Number.isInteger(decimals) || decimals < 0 || decimals > 18) {
    throw new AmountFormatError(`invalid decimals: ${decimals}`);
  }
}
