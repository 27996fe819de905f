import { defineModule } from '../../app-module';
import walletNonceCleanup from './nonce-cleanup.job';
import { walletDiscordNotifier } from './wallets.discord';
import { walletRoutes } from './wallets.routes';

export default defineModule({
  name: 'wallets',
  routes: [walletRoutes],
  jobs: [walletNonceCleanup],
  // Wallets verified on the web link page are confirmed in Discord (DM + edit of the /wallet link reply).
  discord: ({ client, log }) => ({ wallets: walletDiscordNotifier(client, log) }),
});
