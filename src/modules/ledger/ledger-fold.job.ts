import { defineJob } from '../../jobs/job';

/**
 * Folds the credits appended for busy receivers (ledger_tip() never waits for a receiver's balance row) into their
 * balance rows, so balance reads stay one row plus a few credits. Owners' own debits fold too; this covers receivers
 * who never send.
 */
export default defineJob({
  name: 'ledger-fold',
  schedule: '*/5 * * * * *',
  run: async (ctx) => ({ folded: await ctx.services.ledger.foldCredits() }),
});
