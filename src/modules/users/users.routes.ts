import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AppContext } from '../../app-context';
import { UserError } from '../../errors';
import { HttpError } from '../../http/http-error';

const snowflake = /^\d{15,22}$/;
const STATUS: Record<string, number> = { USER_NOT_FOUND: 404 };
const blockBody = z.object({ reason: z.string().trim().min(1).max(200), actor: z.string().regex(snowflake).optional() }).strict();

const toHttp = (err: unknown): unknown =>
  err instanceof UserError ? new HttpError(STATUS[err.code] ?? 400, err.code.toLowerCase(), err.message) : err;

function userJson(u: { discord_id: string; is_blocked: boolean; blocked_reason: string | null; blocked_at: Date | null }) {
  return { discordId: u.discord_id, isBlocked: u.is_blocked, blockedReason: u.blocked_reason, blockedAt: u.blocked_at?.toISOString() ?? null };
}

/**
 * `POST /admin/users/:discordId/block` (body `{ reason, actor? }`) and `/unblock`: the operators' API (bearer token).
 * `actor` is the operator's Discord id when the caller knows it (kept for the audit row); else "admin-api".
 */
export function userAdminRoutes(admin: FastifyInstance, ctx: AppContext): void {
  const { users } = ctx.services;
  const target = (discordId: string) => {
    if (!snowflake.test(discordId)) throw new HttpError(400, 'invalid_discord_id', 'discordId must be a Discord snowflake (15-22 digits)');
    return { discordId };
  };

  admin.post<{ Params: { discordId: string } }>('/users/:discordId/block', async (req) => {
    const who = target(req.params.discordId);
    const r = blockBody.safeParse(req.body ?? {});
    if (!r.success) throw new HttpError(400, 'invalid_body', r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
    try {
      return userJson((await users.block(who, r.data.reason, { discordId: r.data.actor ?? 'admin-api' })).after);
    } catch (err) {
      throw toHttp(err);
    }
  });

  admin.post<{ Params: { discordId: string } }>('/users/:discordId/unblock', async (req) => {
    const who = target(req.params.discordId);
    try {
      return userJson((await users.unblock(who, { discordId: 'admin-api' })).after);
    } catch (err) {
      throw toHttp(err);
    }
  });
}
