import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AppContext } from '../../app-context';
import { UserError } from '../../errors';
import { HttpError } from '../../http/http-error';
import type { AuditEvent, GuildSettings } from './guilds.service';

// How each UserError code reads over HTTP; anything unlisted is a plain 400.
const STATUS: Record<string, number> = { GUILD_UNKNOWN: 404, GUILD_BAD_CHANNEL: 422, GUILD_BAD_ROLE: 422, GUILD_UNVERIFIABLE: 503 };

const toHttp = (err: unknown): unknown =>
  err instanceof UserError ? new HttpError(STATUS[err.code] ?? 400, err.code.toLowerCase(), err.message) : err;

const snowflake = z.string().regex(/^\d{15,22}$/, 'must be a Discord snowflake (15-22 digits)');

const settingsPatch = z
  .object({
    supportChannelId: snowflake.nullable().optional(),
    staffRoleId: snowflake.nullable().optional(),
    logChannelId: snowflake.nullable().optional(),
    badgeRoleId: snowflake.nullable().optional(),
    ticketCategories: z.array(z.string().regex(/^[a-z0-9_-]{1,32}$/, 'must be 1-32 of a-z 0-9 _ -')).min(1).max(25).nullable().optional(),
    maxOpenTickets: z.number().int().min(1).max(50).nullable().optional(),
    openCooldownSeconds: z.number().int().min(0).max(86_400).nullable().optional(),
    autoCloseHours: z.number().positive().max(8760).nullable().optional(),
    autoCloseWarningHours: z.number().positive().max(8760).nullable().optional(),
    membershipDefaults: z.record(z.string(), z.unknown()).nullable().optional(),
  })
  .strict()
  .refine((b) => Object.values(b).some((v) => v !== undefined), { message: 'send at least one setting (null resets it to the default)' });

const auditQuery = z
  .object({
    guild: snowflake.optional(),
    actor: snowflake.optional(),
    user: snowflake.optional(),
    action: z.string().regex(/^[a-z][a-z0-9_.-]{1,63}$/, 'must look like ticket.claim').optional(),
    limit: z.coerce.number().int().min(1).max(100).default(50),
    cursor: z.string().regex(/^[1-9]\d{0,18}$/, 'must be a nextCursor value').optional(),
  })
  .strict();

const roleBody = z.object({ role: z.enum(['operator', 'user']), reason: z.string().trim().min(1).max(500).optional() }).strict();

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value ?? {});
  if (!r.success) throw new HttpError(400, `invalid_${what}`, r.error.issues.map((i) => `${i.path.join('.') || what}: ${i.message}`).join('; '));
  return r.data;
}

function guildId(raw: string): string {
  if (!/^\d{15,22}$/.test(raw)) throw new HttpError(400, 'invalid_guild_id', 'id must be a Discord snowflake (15-22 digits)');
  return raw;
}

const settingsJson = (s: GuildSettings) => ({ ...s, tickets: { ...s.tickets } });

function auditJson(e: AuditEvent) {
  return {
    id: String(e.id),
    actorDiscordId: e.actor_discord_id,
    via: e.via,
    guildId: e.guild_id,
    action: e.action,
    target: e.target,
    before: e.before,
    after: e.after,
    reason: e.reason,
    at: e.at.toISOString(),
  };
}

/**
 * `/admin/guilds/:id` (settings), `/admin/audit` (the audit log, keyset paged) and `/admin/users/:discordId/role`
 * (operators). Registered inside the bearer-guarded /admin scope: the admin API is the operators' API.
 */
export function guildAdminRoutes(admin: FastifyInstance, ctx: AppContext): void {
  const { guilds, users } = ctx.services;
  const apiActor = { discordId: null, via: 'admin-api' } as const;

  admin.get<{ Params: { id: string } }>('/guilds/:id', async (req) => settingsJson(await guilds.settings(guildId(req.params.id))));

  admin.patch<{ Params: { id: string } }>('/guilds/:id', async (req) => {
    const id = guildId(req.params.id);
    const body = parse(settingsPatch, req.body, 'body');
    const saved = await guilds.update(id, body, apiActor).catch((err: unknown) => Promise.reject(toHttp(err)));
    return settingsJson(saved);
  });

  admin.get('/audit', async (req) => {
    const q = parse(auditQuery, req.query, 'query');
    const page = await guilds
      .audit({ guildId: q.guild, actorDiscordId: q.actor, userDiscordId: q.user, action: q.action, limit: q.limit, cursor: q.cursor })
      .catch((err: unknown) => Promise.reject(toHttp(err)));
    return { items: page.items.map(auditJson), nextCursor: page.nextCursor };
  });

  admin.put<{ Params: { discordId: string } }>('/users/:discordId/role', async (req) => {
    const body = parse(roleBody, req.body, 'body');
    const { user, changed } = await users
      .changeRole(req.params.discordId, body.role === 'operator' ? 'ADMIN' : 'USER', apiActor, body.reason)
      .catch((err: unknown) => Promise.reject(toHttp(err)));
    return { discordId: user.discord_id, role: user.role === 'ADMIN' ? 'operator' : 'user', changed };
  });
}
