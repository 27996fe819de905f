import { defineModule } from '../../app-module';
import depositWatch from './deposit-watch.job';
import { depositDiscordNotifier } from './deposits.discord';

export default defineModule({
  name: 'deposits',
  jobs: [depositWatch],
  discord: ({ client, log, config }) => ({ deposits: depositDiscordNotifier(client, log, config) }),
});
