import { defineJob } from '../../jobs/job';

/** Removes tickets a dying replica left without their thread (see TicketsService.abandonUnfinished). */
export default defineJob({
  name: 'tickets-unfinished',
  schedule: '*/15 * * * * *',
  async run(ctx) {
    const removed = await ctx.services.tickets.abandonUnfinished(ctx.config.TICKETS_SETUP_GRACE_SECONDS);
    if (removed.length) ctx.log.warn({ tickets: removed.map(String) }, 'removed tickets left without a thread by an interrupted open');
    return { removed: removed.length };
  },
});
