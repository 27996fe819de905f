import { defineJob } from '../../jobs/job';

/** Closes each member's period on their anchor day (keeping its totals in quota_periods). */
export default defineJob({
  name: 'quota-rollover',
  schedule: '*/10 * * * *',
  run: (ctx) => ctx.services.quota.rollover(),
});
