import type { Config } from '../../config';
import { quote, UserError } from '../../errors';
import { formatAmount, parseAmount } from './amounts';

export interface Currency {
  code: string;
  decimals: number;
  /** SPL mint; null for native SOL. */
  mint: string | null;
}

export const SOL: Currency = { code: 'SOL', decimals: 9, mint: null };

/** SOL first, then LEDGER_TOKENS in configured order. */
export class Currencies {
  readonly all: readonly Currency[];
  private readonly byCode: Map<string, Currency>;

  constructor(tokens: readonly Currency[]) {
    this.all = [SOL, ...tokens.filter((t) => t.code !== 'SOL')];
    this.byCode = new Map(this.all.map((c) => [c.code, c]));
  }

  static fromConfig(config: Pick<Config, 'LEDGER_TOKENS'>): Currencies {
    return new Currencies(config.LEDGER_TOKENS.map((t) => ({ code: t.code, decimals: t.decimals, mint: t.mint })));
  }

  /** The currency for a user-typed code (case-insensitive); SOL when none was given. */
  get(code: string | null | undefined): Currency {
    const wanted = (code ?? '').trim().toUpperCase() || 'SOL';
    const found = this.byCode.get(wanted);
    if (!found) {
      throw new UserError('UNKNOWN_CURRENCY', `Unknown currency ${quote(code ?? '', 20)}. Available: ${this.all.map((c) => c.code).join(', ')}.`);
    }
    return found;
  }

  parse(amount: string, code: string | null | undefined): { currency: Currency; amount: bigint } {
    const currency = this.get(code);
    return { currency, amount: parseAmount(amount, currency) };
  }

  /** "1.5 SOL". */
  format(amount: bigint, code: string): string {
    const currency = this.byCode.get(code);
    return currency ? `${formatAmount(amount, currency.decimals)} ${currency.code}` : `${amount} ${code} (base units)`;
  }
}
