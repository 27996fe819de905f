import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../app-context';
import { HttpError } from './http-error';

const snowflake = /^\d{15,22}$/;

export function registerAdminRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get<{ Params: { discordId: string } }>('/users/:discordId', async (req) => {
    const { discordId } = req.params;
    if (!snowflake.test(discordId)) {
      throw new HttpError(400, 'invalid_discord_id', 'discordId must be a Discord snowflake (15-22 digits)');
    }
    const profile = await ctx.services.users.profile(discordId);
    if (!profile) throw new HttpError(404, 'user_not_found', `No user with Discord id ${discordId}`);
    return toJson(profile);
  });
}

/** JSON with bigint as decimal strings and dates as ISO strings. */
export function toJson(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
}
