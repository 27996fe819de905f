import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../../app-context';
import { snowflake } from '../../http/schemas';
import type { AuditEvent, GuildSettings } from './guilds.service';

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

const guildParams = z.object({ guildId: snowflake.describe('the guild (server) id') });

// Settings are an open record on purpose: new per-guild features add keys without a schema change here.
const settingsSchema = z.record(z.string(), z.unknown()).meta({ id: 'GuildSettings' });

const auditEventSchema = z
  .object({
    id: z.string(),
    actorDiscordId: z.string().nullable(),
    via: z.string(),
    guildId: z.string().nullable(),
    action: z.string(),
    target: z.string().nullable(),
    before: z.unknown(),
    after: z.unknown(),
    reason: z.string().nullable(),
    at: z.string(),
  })
  .meta({ id: 'AuditEvent' });

/**
 * `/admin/guilds/:guildId` (settings), `/admin/audit` (the audit log, keyset paged) and
 * `/admin/users/:discordId/role` (operators). Registered inside the bearer-guarded /admin scope: the admin API is the
 * operators' API.
 */
export function guildAdminRoutes(admin: FastifyInstance, ctx: AppContext): void {
  const { guilds, users } = ctx.services;
  const apiActor = { discordId: null, via: 'admin-api' } as const;
  const api = admin.withTypeProvider<ZodTypeProvider>();

  api.get(
    '/guilds/:guildId',
    { schema: { summary: "A guild's effective settings (defaults from config where unset)", params: guildParams, response: { 200: settingsSchema } } },
    async (req) => settingsJson(await guilds.settings(req.params.guildId)),
  );

  api.patch(
    '/guilds/:guildId',
    {
      schema: {
        summary: "Change a guild's settings (null resets one to the default); channel and role ids are checked in that guild",
        params: guildParams,
        body: settingsPatch,
        response: { 200: settingsSchema },
      },
    },
    async (req) => settingsJson(await guilds.update(req.params.guildId, req.body, apiActor)),
  );

  api.get(
    '/audit',
    {
      schema: {
        summary: 'The audit log, newest first, filtered and keyset paged',
        querystring: auditQuery,
        response: { 200: z.object({ items: z.array(auditEventSchema), nextCursor: z.string().nullable() }) },
      },
    },
    async (req) => {
      const q = req.query;
      const page = await guilds.audit({ guildId: q.guild, actorDiscordId: q.actor, userDiscordId: q.user, action: q.action, limit: q.limit, cursor: q.cursor });
      return { items: page.items.map(auditJson), nextCursor: page.nextCursor };
    },
  );

  api.put(
    '/users/:discordId/role',
    {
      schema: {
        summary: "Make a user a bot operator, or take it away (operators create money and approve payouts)",
        params: z.object({ discordId: snowflake }),
        body: roleBody,
        response: { 200: z.object({ discordId: z.string(), role: z.enum(['operator', 'user']), changed: z.boolean() }) },
      },
    },
    async (req) => {
      const { user, changed } = await users.changeRole(req.params.discordId, req.body.role === 'operator' ? 'ADMIN' : 'USER', apiActor, req.body.reason);
      return { discordId: user.discord_id, role: user.role === 'ADMIN' ? ('operator' as const) : ('user' as const), changed };
    },
  );
}
