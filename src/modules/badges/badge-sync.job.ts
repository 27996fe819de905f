import { defineJob } from '../../jobs/job';

/** Recomputes every reputation score (set-based), then re-writes changed on-chain fields and notices burned badges. */
export default defineJob({
  name: 'badge-sync',
  schedule: '0 */15 * * * *',
  run: async (ctx) => {
    const rescored = await ctx.services.badges.recompute();
    return { rescored, ...(await ctx.services.badges.sync()) };
  },
});
