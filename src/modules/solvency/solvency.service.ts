import type { Kysely } from 'kysely';
import type { ChainService } from '../../chain/chain.service';
import { getLamports, getTokenBalance } from '../../chain/transfers';
import type { DB } from '../../db/schema';
import type { Logger } from '../../logger';
import type { Metrics } from '../../metrics';
import type { Currencies, Currency } from '../ledger/currencies';
import type { WithdrawalsService } from '../withdrawals/withdrawals.service';

export interface SolvencyReport {
  currency: Currency;
  /** What the treasury holds on chain, base units. */
  onChain: bigint;
  /** Owed to members and guilds: balances, open airdrop escrow and guild membership revenue. */
  balances: bigint;
  /** Debited from members but not yet paid out or refunded. */
  pendingWithdrawals: bigint;
  liabilities: bigint;
  /** liabilities − onChain when positive, else 0. */
  shortfall: bigint;
  /** What this check changed. */
  action: 'paused' | 'resumed' | null;
  /** Holdings could not be read (RPC down, mint missing on this cluster); nothing was decided. */
  error?: string;
}

/**
 * The treasury must hold at least what the ledger owes: member balances plus withdrawals in flight, per currency.
 * On a shortfall it alerts (error log + gauge) and pauses that currency's withdrawals so a hole cannot be paid
 * out first-come-first-served; it resumes them by itself once holdings cover liabilities again. The pause is
 * separate from the admin's `enabled` switch, so recovery never re-enables a currency an admin turned off.
 *
 * SOL holdings also pay network fees and recipients' token-account rent, so operators keep a float above
 * liabilities; the check is deliberately strict (a landed payout not yet marked confirmed counts twice for a
 * moment, which errs on the safe side).
 */
export class SolvencyService {
  constructor(
    private readonly db: Kysely<DB>,
    private readonly chain: ChainService,
    private readonly currencies: Currencies,
    private readonly withdrawals: WithdrawalsService,
    private readonly metrics?: Pick<Metrics, 'treasuryShortfall' | 'withdrawalsPaused'>,
    private readonly log?: Logger,
  ) {}

  async check(): Promise<SolvencyReport[]> {
    if (!this.chain.hasTreasury) return [];
    const treasury = this.chain.treasury().publicKey;
    const owed = await this.withdrawals.liabilities();
    const reports: SolvencyReport[] = [];
    for (const currency of this.currencies.all) {
      let onChain: bigint;
      try {
        onChain = currency.mint
          ? await getTokenBalance(this.chain.connection, treasury, currency.mint)
          : await getLamports(this.chain.connection, treasury);
      } catch (err) {
        // Unknown holdings prove nothing either way: keep the currency's pause state, check the others.
        this.log?.error({ err, currency: currency.code }, 'solvency check could not read treasury holdings');
        reports.push({ currency, onChain: 0n, balances: 0n, pendingWithdrawals: 0n, liabilities: 0n, shortfall: 0n, action: null, error: (err as Error).message });
        continue;
      }
      const { balances = 0n, pendingWithdrawals = 0n } = owed.get(currency.code) ?? {};
      const liabilities = balances + pendingWithdrawals;
      const shortfall = liabilities > onChain ? liabilities - onChain : 0n;
      let action: SolvencyReport['action'] = null;
      if (shortfall > 0n) {
        const reason = `treasury holds ${this.currencies.format(onChain, currency.code)} but owes ${this.currencies.format(liabilities, currency.code)}`;
        this.log?.error({ alert: 'treasury-insolvent', currency: currency.code, onChain: onChain.toString(), liabilities: liabilities.toString() }, `ALERT solvency: ${reason}; withdrawals paused`);
        if (await this.withdrawals.pause(currency.code, reason)) action = 'paused';
      } else if (await this.withdrawals.resume(currency.code)) {
        action = 'resumed';
        this.log?.warn({ currency: currency.code }, 'solvency restored; withdrawals resumed');
      }
      this.metrics?.treasuryShortfall.set({ currency: currency.code }, Number(shortfall));
      this.metrics?.withdrawalsPaused.set({ currency: currency.code }, shortfall > 0n ? 1 : 0);
      reports.push({ currency, onChain, balances, pendingWithdrawals, liabilities, shortfall, action });
    }
    return reports;
  }
}
