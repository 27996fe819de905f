import { defineJob } from '../../jobs/job';

/**
 * Every 5 minutes: deletes wallet-link nonces that expired more than an hour ago (used, superseded or not) and
 * rate-limit attempts older than the window, in batches of 5,000 rows so no statement holds locks for long.
 */
export default defineJob({
  name: 'wallet-nonce-cleanup',
  schedule: '*/5 * * * *',
  run: (ctx) => ctx.services.wallets.cleanup(),
});
