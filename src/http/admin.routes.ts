import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../app-context';
import { UserError } from '../errors';
import { snowflake } from './schemas';


const row = z.record(z.string(), z.unknown());
const profileJson = z.object({
  user: z.object({ id: z.string(), discord_id: z.string(), username: z.string(), role: z.enum(['USER', 'SUPPORT', 'ADMIN']) }).loose(),
  credentials: z.object({ federated: z.array(row), chain: z.array(row) }),
  badge: row.nullable().describe('the live trust badge, else the latest one; null when none'),
});

export function registerAdminRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.withTypeProvider<ZodTypeProvider>().get(
    '/users/:discordId',
    { schema: { summary: 'A user and their linked credentials', params: z.object({ discordId: snowflake }), response: { 200: profileJson } } },
    async (req) => {
      const { discordId } = req.params;
      const profile = await ctx.services.users.profile(discordId);
      if (!profile) throw new UserError('USER_NOT_FOUND', `No user with Discord id ${discordId}`);
      const badge = await ctx.services.badges.show(discordId);
      const summary = badge && { id: badge.id, status: badge.status, mint: badge.mint, wallet: badge.wallet, tier: badge.tier, reputation_score: badge.reputation_score, minted_at: badge.minted_at, revoked_at: badge.revoked_at };
      return toJson({ ...profile, badge: summary ?? null }) as z.output<typeof profileJson>;
    },
  );
}

/** JSON with bigint as decimal strings and dates as ISO strings. */
export function toJson(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
}
