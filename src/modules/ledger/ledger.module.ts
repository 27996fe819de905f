import { defineModule } from '../../app-module';
import airdropExpiry from './airdrop-expiry.job';
import { airdropDiscordEffects } from './ledger.discord';

export default defineModule({
  name: 'ledger',
  jobs: [airdropExpiry],
  discord: ({ client, config }) => ({ airdrops: airdropDiscordEffects(client, config) }),
});
