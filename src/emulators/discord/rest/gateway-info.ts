import type { RestDeps } from './lookups';
import { sendJson, type RouteDef } from './router';

/** Where discord.js finds the gateway. */
export function gatewayInfoRoutes({ gateway, gatewayUrl }: RestDeps): RouteDef[] {
  return [
    { method: 'GET', path: 'gateway', auth: false, handler: ({ res }) => sendJson(res, 200, { url: gatewayUrl() }) },
    {
      method: 'GET',
      path: 'gateway/bot',
      handler: ({ res }) => sendJson(res, 200, gateway.botInfo()),
    },
  ];
}
