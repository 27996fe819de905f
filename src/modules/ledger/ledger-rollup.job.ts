import { defineJob } from '../../jobs/job';

/**
 * Folds committed tip legs from the journal into the leaderboard aggregates (ledger_fold_tips(): tip_totals_daily
 * and tip_totals_rollup's all/day/week/month rows) up to the safe horizon, a few seconds behind now, and slides the
 * windows when a UTC day begins. Every 5 s, so a board re-sums at most a few seconds of journal. Idempotent: the
 * horizon moves in the fold's own transaction, under the state row's lock.
 */
export default defineJob({
  name: 'ledger-rollup',
  schedule: '*/5 * * * * *',
  run: async (ctx) => ({ legs: await ctx.services.ledger.rollupTipTotals() }),
});
