import { defineJob } from '../../jobs/job';

/** Advances every open badge chain op (mint, field update, revoke) from its persisted state; watches the issuer. */
export default defineJob({
  name: 'badge-processor',
  schedule: '*/10 * * * * *',
  run: async (ctx) => {
    await ctx.services.badges.checkIssuer();
    return ctx.services.badges.processPending();
  },
});
