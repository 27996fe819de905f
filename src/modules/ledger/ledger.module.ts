import { defineModule } from '../../app-module';
import airdropExpiry from './airdrop-expiry.job';
import ledgerFold from './ledger-fold.job';
import ledgerRollup from './ledger-rollup.job';
import { airdropDiscordEffects } from './ledger.discord';

export default defineModule({
  name: 'ledger',
  jobs: [airdropExpiry, ledgerFold, ledgerRollup],
  discord: ({ client, config }) => ({ airdrops: airdropDiscordEffects(client, config) }),
});
