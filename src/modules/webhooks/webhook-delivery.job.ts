import { defineJob } from '../../jobs/job';

/**
 * Sends due webhook deliveries. The runner's advisory lock gives one run per tick cluster-wide; claimDue's
 * SKIP LOCKED + lease keeps deliveries disjoint even if two runs overlap (a slow receiver outlasting a tick).
 */
export default defineJob({
  name: 'webhook-delivery',
  schedule: '*/5 * * * * *',
  run: (ctx) => ctx.services.webhooks.deliverDue(),
});
