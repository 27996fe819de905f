import { defineJob } from '../../jobs/job';

/** Resumes every approved, non-final withdrawal from its persisted state (see WithdrawalsService). */
export default defineJob({
  name: 'withdrawal-processor',
  schedule: '*/10 * * * * *',
  run: (ctx) => ctx.services.withdrawals.processPending(),
});
