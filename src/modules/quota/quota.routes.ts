import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../../app-context';
import { idParam, snowflake } from '../../http/schemas';

const iso = z.string();
const when = z.iso.datetime({ offset: true }).transform((s) => new Date(s));

const clientSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    ownerDiscordId: z.string(),
    contacts: z.array(z.string()),
    allowedOrigins: z.array(z.string()),
    active: z.boolean(),
    reporterId: z.string().nullable(),
    createdAt: iso,
    environments: z.array(
      z.object({ id: z.string(), environment: z.string(), tokenHint: z.string(), active: z.boolean(), createdAt: iso, rotatedAt: iso.nullable(), revokedAt: iso.nullable() }),
    ),
  })
  .meta({ id: 'ApiClient' });

type ClientRow = Awaited<ReturnType<AppContext['services']['quota']['adminListClients']>>[number];
const isoOrNull = (d: Date | null) => (d ? d.toISOString() : null);
export function clientJson(c: ClientRow) {
  return {
    id: String(c.id),
    name: c.name,
    ownerDiscordId: c.owner_discord_id,
    contacts: c.contacts,
    allowedOrigins: c.allowed_origins,
    active: c.active,
    reporterId: c.reporter_id === null ? null : String(c.reporter_id),
    createdAt: c.created_at.toISOString(),
    environments: c.environments.map((e) => ({
      id: String(e.id),
      environment: e.environment,
      tokenHint: e.token_hint,
      active: e.active,
      createdAt: e.created_at.toISOString(),
      rotatedAt: isoOrNull(e.rotated_at),
      revokedAt: isoOrNull(e.revoked_at),
    })),
  };
}

/** `/admin/clients` and `/admin/quota/*`: operators manage API clients, reporters, bundles, packages and vouchers. */
export function quotaAdminRoutes(admin: FastifyInstance, ctx: AppContext): void {
  const api = admin.withTypeProvider<ZodTypeProvider>();
  const quota = ctx.services.quota;

  api.get(
    '/clients',
    {
      schema: {
        summary: 'API clients, newest first (cursor = the last id seen)',
        querystring: z.object({ owner: snowflake.optional(), limit: z.coerce.number().int().min(1).max(100).default(50), cursor: idParam('cursor').optional() }).strict(),
        response: { 200: z.object({ items: z.array(clientSchema), nextCursor: z.string().nullable() }) },
      },
    },
    async (req) => {
      const { owner, limit, cursor } = req.query;
      const rows = await quota.adminListClients({ limit, ...(cursor !== undefined ? { beforeId: cursor } : {}), ...(owner ? { ownerDiscordId: owner } : {}) });
      return { items: rows.map(clientJson), nextCursor: rows.length === limit ? String(rows.at(-1)!.id) : null };
    },
  );

  api.patch(
    '/clients/:clientId',
    {
      schema: {
        summary: 'Activate/deactivate a client, set its reporter, origins or contacts',
        params: z.object({ clientId: idParam('client id') }),
        body: z
          .object({
            active: z.boolean().optional(),
            reporterId: z.union([z.string().regex(/^[1-9]\d{0,18}$/).transform(BigInt), z.null()]).optional(),
            allowedOrigins: z.array(z.string().max(200)).max(20).optional(),
            contacts: z.array(z.string().max(200)).max(10).optional(),
          })
          .strict()
          .refine((b) => Object.keys(b).length > 0, { message: 'send at least one field' }),
        response: { 200: z.object({ id: z.string(), active: z.boolean(), reporterId: z.string().nullable(), allowedOrigins: z.array(z.string()), contacts: z.array(z.string()) }) },
      },
    },
    async (req) => {
      const b = req.body;
      const c = await quota.adminUpdateClient(req.params.clientId, {
        ...(b.active !== undefined ? { active: b.active } : {}),
        ...(b.reporterId !== undefined ? { reporterId: b.reporterId } : {}),
        ...(b.allowedOrigins ? { allowedOrigins: b.allowedOrigins } : {}),
        ...(b.contacts ? { contacts: b.contacts } : {}),
      });
      return { id: String(c.id), active: c.active, reporterId: c.reporter_id === null ? null : String(c.reporter_id), allowedOrigins: c.allowed_origins, contacts: c.contacts };
    },
  );

  api.post(
    '/quota/reporters',
    {
      schema: {
        summary: 'Register a usage reporter; its token is shown once',
        body: z.object({ name: z.string().min(1).max(64) }).strict(),
        response: { 200: z.object({ id: z.string(), name: z.string(), token: z.string() }) },
      },
    },
    async (req) => {
      const r = await quota.createReporter(req.body.name);
      return { id: String(r.reporter.id), name: r.reporter.name, token: r.token };
    },
  );

  api.post(
    '/quota/bundles',
    {
      schema: {
        summary: 'A quota bundle: requests per month, optionally for one method',
        body: z.object({ name: z.string().min(1).max(64), requests: z.number().int().min(1).max(1e12), method: z.string().min(1).max(64).optional() }).strict(),
        response: { 200: z.object({ id: z.string(), name: z.string(), requests: z.string(), method: z.string().nullable() }) },
      },
    },
    async (req) => {
      const b = await quota.createBundle({ name: req.body.name, requests: BigInt(req.body.requests), method: req.body.method ?? null });
      return { id: String(b.id), name: b.name, requests: String(b.requests), method: b.method };
    },
  );

  api.post(
    '/quota/packages',
    {
      schema: {
        summary: 'A package of bundles, each valid in an optional window',
        body: z
          .object({
            name: z.string().min(1).max(64),
            bundles: z.array(z.object({ bundleId: idParam('bundle id'), validFrom: when.optional(), validUntil: when.optional() }).strict()).min(1).max(50),
          })
          .strict(),
        response: { 200: z.object({ id: z.string(), name: z.string() }) },
      },
    },
    async (req) => {
      const p = await quota.createPackage({
        name: req.body.name,
        bundles: req.body.bundles.map((b) => ({ bundleId: b.bundleId, ...(b.validFrom ? { validFrom: b.validFrom } : {}), ...(b.validUntil ? { validUntil: b.validUntil } : {}) })),
      });
      return { id: String(p.id), name: p.name };
    },
  );

  api.post(
    '/quota/grants',
    {
      schema: {
        summary: 'Grant a package to a member',
        body: z.object({ discordId: snowflake, packageId: idParam('package id'), validUntil: when.optional() }).strict(),
        response: { 200: z.object({ id: z.string(), packageId: z.string(), validUntil: iso }) },
      },
    },
    async (req) => {
      const g = await quota.grantPackage({ discordId: req.body.discordId, packageId: req.body.packageId, actorRef: 'admin-api', ...(req.body.validUntil ? { validUntil: req.body.validUntil } : {}) });
      return { id: String(g.id), packageId: String(g.package_id), validUntil: Number.isFinite(g.valid_until.getTime()) ? g.valid_until.toISOString() : 'infinity' };
    },
  );

  api.post(
    '/quota/vouchers',
    {
      schema: {
        summary: 'A voucher granting a package: redeemable once per member, `uses` times in all, until validUntil',
        body: z.object({ code: z.string().min(4).max(40), packageId: idParam('package id'), uses: z.number().int().min(1).max(1_000_000), validUntil: when }).strict(),
        response: { 200: z.object({ id: z.string(), code: z.string(), usesLeft: z.number().int(), validUntil: iso }) },
      },
    },
    async (req) => {
      const v = await quota.createVoucher(req.body);
      return { id: String(v.id), code: v.code, usesLeft: v.uses_left, validUntil: v.valid_until.toISOString() };
    },
  );
}
