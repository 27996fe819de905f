import { defineJob } from '../../jobs/job';

/** Treasury holdings ≥ ledger liabilities per currency; pauses/resumes withdrawals (see SolvencyService). */
export default defineJob({
  name: 'solvency-check',
  schedule: '0 * * * * *',
  run: async (ctx) =>
    (await ctx.services.solvency.check()).map((r) => ({
      currency: r.currency.code,
      onChain: r.onChain.toString(),
      liabilities: r.liabilities.toString(),
      shortfall: r.shortfall.toString(),
      action: r.action,
      ...(r.error ? { error: r.error } : {}),
    })),
});
