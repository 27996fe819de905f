import { defineJob } from '../../jobs/job';

/**
 * Closes tickets nobody wrote in for their guild's auto-close hours (default TICKETS_AUTO_CLOSE_HOURS), after a
 * warning posted in the thread the guild's warning hours (default TICKETS_AUTO_CLOSE_WARNING_HOURS) earlier. Needs
 * the Discord side (warning, archive, DM): without Discord effects in `ctx.effects.tickets` (no DISCORD_TOKEN) it does
 * nothing, so no ticket is ever closed without its warning.
 */
export default defineJob({
  name: 'tickets-auto-close',
  schedule: '*/10 * * * *',
  async run(ctx) {
    const effects = ctx.effects.tickets;
    if (!effects) {
      ctx.log.debug('tickets-auto-close: no Discord client; skipping');
      return { skipped: 'no discord client' };
    }
    const result = await ctx.services.tickets.autoClose(async (guildId) => (await ctx.services.guilds.settings(guildId)).tickets, effects);
    if (result.failed.length) ctx.log.warn({ tickets: result.failed.map(String) }, 'could not post the auto-close warning');
    return { warned: result.warned.length, closed: result.closed.length, failed: result.failed.length };
  },
});
