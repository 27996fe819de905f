import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../../app-context';
import { UserError } from '../../errors';
import { renderBadgeSvg } from './badge-image';
import { BADGE_NAME, BADGE_SYMBOL, type Badge } from './badges.service';
import type { BadgeStatus } from './badges.tables';

const BASE58 = '[1-9A-HJ-NP-Za-km-z]{32,44}';
const file = z.string().regex(new RegExp(`^${BASE58}\\.(json|svg)$`), 'must be <mint>.json or <mint>.svg');
const STATUSES = ['queued', 'minting', 'active', 'revoking', 'revoked', 'burned', 'failed'] as const satisfies readonly BadgeStatus[];

const metadataSchema = z
  .object({
    name: z.string(),
    symbol: z.string(),
    description: z.string(),
    image: z.string(),
    external_url: z.string(),
    attributes: z.array(z.object({ trait_type: z.string(), value: z.union([z.string(), z.number()]) })),
    properties: z.object({ category: z.string(), files: z.array(z.object({ uri: z.string(), type: z.string() })) }),
  })
  .meta({ id: 'BadgeMetadata', description: 'Metaplex-style off-chain metadata' });

const badgeSchema = z
  .object({
    id: z.string(),
    discordId: z.string(),
    status: z.enum(STATUSES),
    mint: z.string().nullable(),
    wallet: z.string(),
    tier: z.string(),
    reputationScore: z.number(),
    chainReputation: z.string().nullable(),
    chainTier: z.string().nullable(),
    termsVersion: z.string(),
    revokeReason: z.string().nullable(),
    revokedBy: z.string().nullable(),
    failureReason: z.string().nullable(),
    mintedAt: z.string().nullable(),
    revokedAt: z.string().nullable(),
    createdAt: z.string(),
  })
  .meta({ id: 'TrustBadge' });

function badgeJson(b: Badge) {
  return {
    id: b.id.toString(),
    discordId: b.discord_id,
    status: b.status,
    mint: b.mint,
    wallet: b.wallet,
    tier: b.tier,
    reputationScore: b.reputation_score,
    chainReputation: b.chain_reputation,
    chainTier: b.chain_tier,
    termsVersion: b.terms_version,
    revokeReason: b.revoke_reason,
    revokedBy: b.revoked_by,
    failureReason: b.failure_reason,
    mintedAt: b.minted_at?.toISOString() ?? null,
    revokedAt: b.revoked_at?.toISOString() ?? null,
    createdAt: b.created_at.toISOString(),
  };
}

/** What the chain carries (the last synced values), falling back to the values at claim. */
const shown = (b: Badge) => ({ tier: b.chain_tier ?? b.tier, score: Number(b.chain_reputation ?? b.reputation_score) });

/** Public: `GET /badges/<mint>.json` (the on-chain `uri`) and `GET /badges/<mint>.svg` (its image). */
export function badgeRoutes(app: FastifyInstance, ctx: AppContext): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  api.get(
    '/badges/:file',
    {
      schema: {
        summary: 'A trust badge’s metadata JSON (<mint>.json) or SVG image (<mint>.svg)',
        params: z.object({ file }),
        response: { 200: { content: { 'application/json': { schema: metadataSchema }, 'image/svg+xml': { schema: z.string() } } } },
      },
    },
    async (req, reply) => {
      const [mint, ext] = req.params.file.split('.') as [string, 'json' | 'svg'];
      const badge = await ctx.services.badges.byMint(mint);
      if (!badge) throw new UserError('NO_BADGE', `There is no badge with mint ${mint}.`);
      const { tier, score } = shown(badge);
      reply.header('cache-control', 'public, max-age=300');
      if (ext === 'svg') return reply.type('image/svg+xml').send(renderBadgeSvg({ tier, score, status: badge.status }));
      const base = (ctx.config.PUBLIC_URL ?? '').replace(/\/+$/, '');
      const image = `${base}/badges/${mint}.svg`;
      return reply.type('application/json').send({
        name: BADGE_NAME,
        symbol: BADGE_SYMBOL,
        description: 'A soulbound (non-transferable) Solbound trust badge: the holder accepted the terms, linked this wallet by signature and reached the reputation tier shown.',
        image,
        external_url: `https://explorer.solana.com/address/${mint}`,
        attributes: [
          { trait_type: 'tier', value: tier },
          { trait_type: 'reputation', value: score },
          { trait_type: 'verified since', value: (badge.minted_at ?? badge.created_at).toISOString().slice(0, 10) },
          { trait_type: 'status', value: badge.status },
        ],
        properties: { category: 'image', files: [{ uri: image, type: 'image/svg+xml' }] },
      });
    },
  );
}

/** `/admin/badges` (inside the bearer-guarded /admin scope). */
export function badgeAdminRoutes(admin: FastifyInstance, ctx: AppContext): void {
  const api = admin.withTypeProvider<ZodTypeProvider>();
  api.get(
    '/badges',
    {
      schema: {
        summary: 'Trust badges, newest first',
        querystring: z.object({
          status: z.enum(STATUSES).optional(),
          limit: z.coerce.number().int().min(1).max(200).default(50),
          before: z.string().regex(/^\d{1,19}$/).optional().describe('page: badges with a smaller id'),
        }),
        response: { 200: z.object({ items: z.array(badgeSchema) }) },
      },
    },
    async (req) => {
      const items = await ctx.services.badges.list({
        limit: req.query.limit,
        ...(req.query.status ? { status: req.query.status } : {}),
        ...(req.query.before ? { beforeId: BigInt(req.query.before) } : {}),
      });
      return { items: items.map(badgeJson) };
    },
  );
  api.post(
    '/badges/:id/revoke',
    {
      schema: {
        summary: 'Revoke a badge: burn with the permanent delegate and close the mint',
        params: z.object({ id: z.string().regex(/^\d{1,19}$/) }),
        body: z.object({ reason: z.string().trim().min(1).max(300), operator: z.string().min(1).max(64).optional() }).strict(),
        response: { 200: badgeSchema },
      },
    },
    async (req) =>
      badgeJson(await ctx.services.badges.revoke({ badgeId: BigInt(req.params.id) }, req.body.reason, { discordId: req.body.operator ?? null, via: 'admin-api' })),
  );
}
