import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../../app-context';
import { snowflake } from '../../http/schemas';

const params = z.object({ discordId: snowflake.describe('the member to (un)block') });
const blockBody = z
  .object({
    reason: z.string().trim().min(1).max(200).describe('why (kept with the block and in the audit log)'),
    actor: snowflake.optional().describe("the operator's Discord id, when the caller knows it (kept in the audit row)"),
  })
  .strict();

const blockSchema = z
  .object({ discordId: z.string(), isBlocked: z.boolean(), blockedReason: z.string().nullable(), blockedAt: z.string().nullable() })
  .meta({ id: 'UserBlock' });

function userJson(u: { discord_id: string; is_blocked: boolean; blocked_reason: string | null; blocked_at: Date | null }) {
  return { discordId: u.discord_id, isBlocked: u.is_blocked, blockedReason: u.blocked_reason, blockedAt: u.blocked_at?.toISOString() ?? null };
}

/**
 * `POST /admin/users/:discordId/block` (body `{ reason, actor? }`) and `/unblock`: the operators' API (bearer token).
 * Each change is one `user.block` / `user.unblock` audit row, via `admin-api` (with `actor` as the Discord id if given).
 */
export function userAdminRoutes(admin: FastifyInstance, ctx: AppContext): void {
  const { users } = ctx.services;
  const api = admin.withTypeProvider<ZodTypeProvider>();

  api.post(
    '/users/:discordId/block',
    {
      schema: {
        summary: 'Block a member from moving money or linking wallets (tickets stay open to them)',
        params,
        body: blockBody,
        response: { 200: blockSchema },
      },
    },
    async (req) => {
      const actor = { discordId: req.body.actor ?? null, via: 'admin-api' } as const;
      return userJson((await users.block({ discordId: req.params.discordId }, req.body.reason, actor)).after);
    },
  );

  api.post(
    '/users/:discordId/unblock',
    { schema: { summary: 'Lift a block', params, response: { 200: blockSchema } } },
    async (req) => userJson((await users.unblock({ discordId: req.params.discordId }, { discordId: null, via: 'admin-api' })).after),
  );
}
