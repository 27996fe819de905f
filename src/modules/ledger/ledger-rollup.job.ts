import { defineJob } from '../../jobs/job';

/**
 * Folds closed UTC days of tip_totals_daily into the leaderboard rollup (ledger_rollup()); yesterday is closed once
 * no transaction that began before midnight is running. Each minute, so the week and month boards are back on the
 * rollup a minute after a day closes; a run with nothing to fold reads one row. Idempotent: the watermark moves in
 * the fold's own transaction.
 */
export default defineJob({
  name: 'ledger-rollup',
  schedule: '20 * * * * *',
  run: async (ctx) => ({ days: await ctx.services.ledger.rollupTipTotals() }),
});
