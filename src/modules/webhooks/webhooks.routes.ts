import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../../app-context';
import { idParam, snowflake } from '../../http/schemas';
import { MAX_ROTATION_OVERLAP_SECONDS, type EndpointView } from './webhooks.service';

const limit = z.coerce.number().int().min(1).max(100).default(50);

const endpointSchema = z
  .object({
    id: z.string(),
    environmentId: z.string(),
    url: z.string(),
    eventTypes: z.array(z.string()),
    active: z.boolean(),
    disabledReason: z.string().nullable(),
    previousSecretExpiresAt: z.string().nullable().describe('until then deliveries are signed with the pre-rotation secret too'),
    createdAt: z.string(),
  })
  .meta({ id: 'WebhookEndpoint' });

const isoTime = (what: string) => z.iso.datetime({ offset: true }).transform((s) => new Date(s)).describe(what);
const operator = snowflake.optional().describe("the operator's Discord id, for the audit log");

const deliverySchema = z
  .object({
    id: z.string(),
    eventId: z.string(),
    endpointId: z.string(),
    status: z.enum(['pending', 'delivered', 'dead']),
    attempts: z.number().int(),
    nextAttemptAt: z.string(),
    lastAttemptAt: z.string().nullable(),
    // While an attempt is in flight, the delivery is not due again before this, whatever nextAttemptAt says.
    leasedUntil: z.string().nullable(),
    lastStatus: z.number().int().nullable(),
    lastError: z.string().nullable(),
    deliveredAt: z.string().nullable(),
  })
  .meta({ id: 'WebhookDelivery' });

const endpointJson = (e: EndpointView) => ({
  id: String(e.id),
  environmentId: String(e.environmentId),
  url: e.url,
  eventTypes: e.eventTypes,
  active: e.active,
  disabledReason: e.disabledReason,
  previousSecretExpiresAt: e.previousSecretExpiresAt?.toISOString() ?? null,
  createdAt: e.createdAt.toISOString(),
});

type DeliveryRow = Awaited<ReturnType<AppContext['services']['webhooks']['listDeliveries']>>[number];
const deliveryJson = (d: DeliveryRow) => ({
  id: String(d.id),
  eventId: d.event_id,
  endpointId: String(d.endpoint_id),
  status: d.status,
  attempts: d.attempts,
  nextAttemptAt: d.next_attempt_at.toISOString(),
  lastAttemptAt: d.last_attempt_at?.toISOString() ?? null,
  leasedUntil: d.leased_until?.toISOString() ?? null,
  lastStatus: d.last_status,
  lastError: d.last_error,
  deliveredAt: d.delivered_at?.toISOString() ?? null,
});

/** `/admin/webhook-endpoints` and `/admin/webhook-deliveries`: operators register, inspect, disable and retry. */
export function webhookAdminRoutes(admin: FastifyInstance, ctx: AppContext): void {
  const api = admin.withTypeProvider<ZodTypeProvider>();
  const webhooks = ctx.services.webhooks;

  api.get(
    '/webhook-endpoints',
    {
      schema: {
        summary: 'Webhook endpoints, newest first (cursor = the last id seen)',
        querystring: z.object({ environmentId: idParam('environment id').optional(), limit, cursor: idParam('cursor').optional() }).strict(),
        response: { 200: z.object({ items: z.array(endpointSchema), nextCursor: z.string().nullable() }) },
      },
    },
    async (req) => {
      const { environmentId, limit: n, cursor } = req.query;
      const rows = await webhooks.listEndpoints({ limit: n, ...(environmentId !== undefined ? { environmentId } : {}), ...(cursor !== undefined ? { beforeId: cursor } : {}) });
      return { items: rows.map(endpointJson), nextCursor: rows.length === n ? String(rows.at(-1)!.id) : null };
    },
  );

  api.post(
    '/webhook-endpoints',
    {
      schema: {
        summary: 'Register a webhook endpoint for an API client environment; its secret is shown once',
        body: z.object({ environmentId: idParam('environment id'), url: z.string().min(1).max(2048), eventTypes: z.array(z.string().min(1).max(64)).min(1).max(20) }).strict(),
        response: { 200: z.object({ endpoint: endpointSchema, secret: z.string() }) },
      },
    },
    async (req) => {
      const { endpoint, secret } = await webhooks.createEndpoint(req.body);
      return { endpoint: endpointJson(endpoint), secret };
    },
  );

  api.post(
    '/webhook-endpoints/:endpointId/disable',
    {
      schema: {
        summary: 'Disable a webhook endpoint; its queued deliveries are marked dead',
        params: z.object({ endpointId: idParam('endpoint id') }),
        // No body at all is an anonymous operator (still audited).
        body: z.object({ reason: z.string().trim().min(1).max(500).optional(), operator }).strict().nullish(),
        response: { 200: endpointSchema },
      },
    },
    async (req) => {
      const { reason, operator: by } = req.body ?? {};
      return endpointJson(await webhooks.disableEndpoint(req.params.endpointId, { ...(reason !== undefined ? { reason } : {}), audit: { discordId: by ?? null, via: 'admin-api' } }));
    },
  );

  api.post(
    '/webhook-endpoints/:endpointId/rotate-secret',
    {
      schema: {
        summary: 'New signing secret (shown once); the old one keeps signing during the overlap window (default 24 h)',
        params: z.object({ endpointId: idParam('endpoint id') }),
        body: z
          .object({ overlapSeconds: z.number().int().min(0).max(MAX_ROTATION_OVERLAP_SECONDS).optional().describe('0 stops the old secret now'), operator })
          .strict()
          // No body at all is the default rotation.
          .nullish(),
        response: { 200: z.object({ endpoint: endpointSchema, secret: z.string() }) },
      },
    },
    async (req) => {
      const { overlapSeconds, operator: by } = req.body ?? {};
      const { endpoint, secret } = await webhooks.rotateSecret(req.params.endpointId, {
        ...(overlapSeconds !== undefined ? { overlapSeconds } : {}),
        audit: { discordId: by ?? null, via: 'admin-api' },
      });
      return { endpoint: endpointJson(endpoint), secret };
    },
  );

  api.post(
    '/webhook-deliveries/replay',
    {
      schema: {
        summary: 'Send the events created in [from, to) again, with their original ids (receivers deduplicate)',
        body: z
          .object({ endpointId: idParam('endpoint id (default: every active endpoint)').optional(), from: isoTime('inclusive'), to: isoTime('exclusive'), operator })
          .strict(),
        response: { 200: z.object({ replayed: z.number().int(), alreadyPending: z.number().int() }) },
      },
    },
    async (req) => {
      const { endpointId, from, to, operator: by } = req.body;
      return webhooks.replay({ from, to, ...(endpointId !== undefined ? { endpointId } : {}), audit: { discordId: by ?? null, via: 'admin-api' } });
    },
  );

  api.get(
    '/webhook-deliveries',
    {
      schema: {
        summary: 'Webhook deliveries, newest first (cursor = the last id seen)',
        querystring: z
          .object({ endpointId: idParam('endpoint id').optional(), status: z.enum(['pending', 'delivered', 'dead']).optional(), limit, cursor: idParam('cursor').optional() })
          .strict(),
        response: { 200: z.object({ items: z.array(deliverySchema), nextCursor: z.string().nullable() }) },
      },
    },
    async (req) => {
      const { endpointId, status, limit: n, cursor } = req.query;
      const rows = await webhooks.listDeliveries({
        limit: n,
        ...(endpointId !== undefined ? { endpointId } : {}),
        ...(status ? { status } : {}),
        ...(cursor !== undefined ? { beforeId: cursor } : {}),
      });
      return { items: rows.map(deliveryJson), nextCursor: rows.length === n ? String(rows.at(-1)!.id) : null };
    },
  );

  api.post(
    '/webhook-deliveries/:deliveryId/retry',
    {
      schema: {
        summary: 'Send a delivery again now, with a fresh retry schedule (same event id)',
        params: z.object({ deliveryId: idParam('delivery id') }),
        body: z.object({ operator }).strict().nullish(),
        response: { 200: deliverySchema },
      },
    },
    async (req) => deliveryJson(await webhooks.retryDelivery(req.params.deliveryId, { audit: { discordId: req.body?.operator ?? null, via: 'admin-api' } })),
  );
}
