import { defineJob } from '../../jobs/job';

/** Credits paid /deposit intents and closes expired ones (see DepositsService for the amount policy). */
export default defineJob({
  name: 'deposit-watch',
  schedule: '*/15 * * * * *',
  run: (ctx) => ctx.services.deposits.watch(),
});
