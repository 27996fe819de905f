import { toApiChannel, toApiUser } from '../discord-state';
import type { RestDeps } from './lookups';
import { DiscordApiError, sendJson, type RouteDef } from './router';

/** Users, the bot itself, and DM channels. */
export function userRoutes({ world }: RestDeps): RouteDef[] {
  return [
    // The current user carries the account fields only it may see.
    { method: 'GET', path: 'users/@me', handler: ({ res }) => sendJson(res, 200, { ...toApiUser(world.bot), mfa_enabled: false, locale: 'en-US' }) },
    {
      method: 'GET',
      path: 'users/:userId',
      handler: ({ res, params }) => {
        const user = world.users.get(params.userId ?? '');
        if (!user) throw new DiscordApiError(404, 10013, 'Unknown User');
        sendJson(res, 200, toApiUser(user));
      },
    },
    {
      method: 'POST',
      path: 'users/@me/channels',
      handler: ({ res, body }) => {
        const recipientId = (body.json as { recipient_id?: string } | undefined)?.recipient_id ?? '';
        const user = world.users.get(recipientId);
        if (!user) throw new DiscordApiError(404, 10013, 'Unknown User');
        sendJson(res, 200, toApiChannel(world.dmChannelFor(user), world.users));
      },
    },
  ];
}
