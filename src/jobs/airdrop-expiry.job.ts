import { defineJob } from './job';

/** Closes expired airdrops and refunds their unclaimed escrow to the creators (set-based, batches of 500). */
export default defineJob({
  name: 'airdrop-expiry',
  schedule: '*/30 * * * * *',
  run: async (ctx) => ({ expired: await ctx.services.ledger.expireAirdrops() }),
});
