import type { AppContext } from '../../../app-context';
import type { Environment } from '../../quota/quota.tables';
import type { Receiver } from './receiver';

// Test support only: a member's API client environment and an endpoint on a test receiver, through the services.

let clients = 0;

/** A fresh API client of `owner` with one environment; returns the environment id. */
export async function environmentOf(ctx: AppContext, owner: { discordId: string; username: string }, environment: Environment = 'dev'): Promise<bigint> {
  const { client } = await ctx.services.quota.createClient(owner, { name: `test-app-${++clients}`, environment });
  const env = await ctx.db.selectFrom('api_client_environments').select('id').where('client_id', '=', client.id).executeTakeFirstOrThrow();
  return env.id;
}

/** `owner` registers `r` for `eventTypes`; the receiver then verifies with the endpoint's secret. */
export async function subscribe(ctx: AppContext, owner: { discordId: string; username: string }, r: Receiver, eventTypes: string[] = ['tip.received']) {
  const environmentId = await environmentOf(ctx, owner);
  const { endpoint, secret } = await ctx.services.webhooks.createEndpoint({ environmentId, url: r.url, eventTypes });
  r.secret = secret;
  return { endpoint, secret, environmentId };
}
