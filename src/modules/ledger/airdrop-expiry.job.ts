import { defineJob } from '../../jobs/job';

/**
 * Closes expired airdrops and refunds their unclaimed escrow to the creators (set-based, batches of 500), then shows
 * each closed airdrop as ended on its Discord message. Also deletes tip confirmations expired for over a day.
 */
export default defineJob({
  name: 'airdrop-expiry',
  schedule: '*/30 * * * * *',
  async run(ctx) {
    const ledger = ctx.services.ledger;
    const closed = await ledger.expireAirdrops();
    // After the commit and best effort: the refund stands whatever Discord says, and a Claim click on a message we
    // could not edit still gets "expired" and re-renders it.
    let notUpdated = 0;
    const effects = ctx.effects.airdrops;
    if (effects) {
      for (const airdrop of closed) {
        try {
          await effects.airdropClosed(airdrop);
        } catch (err) {
          notUpdated++;
          ctx.log.warn({ err, airdrop: String(airdrop.id) }, 'could not mark the expired airdrop message as ended');
        }
      }
    }
    const confirmationsDeleted = await ledger.cleanupConfirmations();
    return { expired: closed.length, notUpdated, confirmationsDeleted };
  },
});
