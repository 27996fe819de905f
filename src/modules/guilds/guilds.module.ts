import { defineModule } from '../../app-module';
import { discordGuildDirectory } from './guilds.discord';
import { guildAdminRoutes } from './guilds.routes';

export default defineModule({
  name: 'guilds',
  adminRoutes: [guildAdminRoutes],
  discord: ({ client }) => ({ guildDirectory: discordGuildDirectory(client) }),
});
