import { defineJob } from '../../jobs/job';

/** Recounts reported usage from the report rows, repairs drift (logged as a warning), prunes old idempotency keys. */
export default defineJob({
  name: 'quota-reconcile',
  schedule: '7 * * * *',
  run: async (ctx) => {
    const result = await ctx.services.quota.reconcile();
    await ctx.services.quota.pruneIdempotencyKeys();
    return result;
  },
});
