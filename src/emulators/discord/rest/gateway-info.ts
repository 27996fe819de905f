import type { RestDeps } from './lookups';
import { sendJson, type RouteDef } from './router';

/** Where discord.js finds the gateway. */
export function gatewayInfoRoutes({ gatewayUrl }: RestDeps): RouteDef[] {
  return [
    { method: 'GET', path: 'gateway', auth: false, handler: ({ res }) => sendJson(res, 200, { url: gatewayUrl() }) },
    {
      method: 'GET',
      path: 'gateway/bot',
      handler: ({ res }) =>
        sendJson(res, 200, {
          url: gatewayUrl(),
          shards: 1,
          session_start_limit: { total: 1000, remaining: 1000, reset_after: 0, max_concurrency: 1 },
        }),
    },
  ];
}
