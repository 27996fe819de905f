import { createHash, randomBytes } from 'node:crypto';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../../app-context';
import { isUserError, UserError } from '../../errors';
import { statusOfUserError } from '../../http/error-status';
import { snowflake } from '../../http/schemas';
import { CLIENT_SECURITY, REPORTER_SECURITY } from '../../http/server';
import type { CheckResult } from './quota.meter';
import { AuthFailure, QuotaExceeded, type ApiCaller } from './quota.service';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The metered method name of a /api/v1 route; absent = not counted (still authenticated and burst-limited). */
    quotaMethod?: string;
  }
  interface FastifyRequest {
    apiCaller?: ApiCaller;
    reporter?: { reporterId: bigint; name: string };
  }
}


/** RFC 9457 problem details: every /api/v1 error. `code` is the stable machine code (snake_case). */
export const problem = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.string(),
    instance: z.string().optional(),
  })
  .meta({ id: 'Problem' });
const problemContent = { content: { 'application/problem+json': { schema: problem } } };

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  410: 'Gone',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

function sendProblem(reply: FastifyReply, req: FastifyRequest, status: number, code: string, detail: string) {
  return reply
    .code(status)
    .type('application/problem+json')
    .send({ type: `https://solbound.dev/problems/${code.replace(/_/g, '-')}`, title: TITLES[status] ?? 'Error', status, detail, code, instance: req.url.split('?')[0] });
}

/** The draft-ietf-httpapi-ratelimit-headers fields for the monthly quota (and the burst policy). */
function rateLimitHeaders(reply: FastifyReply, check: CheckResult, burst: number) {
  const window = Math.round((check.periodEnd.getTime() - check.periodStart.getTime()) / 1000);
  const reset = Math.max(0, Math.ceil((check.periodEnd.getTime() - Date.now()) / 1000));
  reply.header('ratelimit-policy', `"monthly";q=${check.limit};w=${window}, "burst";q=${burst};w=1`);
  reply.header('ratelimit', `"monthly";r=${check.remaining};t=${reset}`);
}

const problemHandler = (burst: number) => (error: Error, req: FastifyRequest, reply: FastifyReply) => {
  if (error instanceof AuthFailure) {
    // A header value must be printable ASCII without quotes.
    const description = error.message.replace(/…/g, '...').replace(/[^\x20-\x7e]|["\\]/g, '');
    reply.header('www-authenticate', `Bearer realm="solbound", error="invalid_token", error_description="${description}"`);
    return sendProblem(reply, req, 401, 'invalid_token', error.message);
  }
  if (error instanceof QuotaExceeded) {
    reply.header('retry-after', String(error.retryAfterSeconds));
    if (error.check) rateLimitHeaders(reply, error.check, burst);
    return sendProblem(reply, req, 429, error.code.toLowerCase(), error.message);
  }
  if (isUserError(error)) {
    const status = error.code === 'IDEMPOTENCY_CONFLICT' ? 422 : statusOfUserError(error.code);
    return sendProblem(reply, req, status, error.code.toLowerCase(), error.message);
  }
  const err = error as FastifyError;
  if (hasZodFastifySchemaValidationErrors(err)) {
    const part = err.validationContext === 'querystring' ? 'query' : (err.validationContext ?? 'body');
    const detail = err.validation.map((v) => `${v.instancePath.slice(1).replaceAll('/', '.') || part}: ${v.message}`).join('; ');
    return sendProblem(reply, req, 400, `invalid_${part}`, detail);
  }
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    const code = err.statusCode === 413 ? 'body_too_large' : err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError ? 'malformed_json' : 'bad_request';
    return sendProblem(reply, req, err.statusCode, code, err.message);
  }
  const ref = randomBytes(4).toString('hex');
  req.log.error({ err, ref, url: req.url }, 'unhandled api error');
  return sendProblem(reply, req, 500, 'internal', `Internal error (ref ${ref})`);
};

const amountString = z.string().regex(/^\d{1,20}(\.\d{1,18})?$/, 'a positive decimal amount, e.g. "1.5"');
const tipBody = z
  .object({
    to: snowflake.describe('Discord id of the receiver (a known member)'),
    amount: amountString,
    currency: z.string().min(1).max(10).optional(),
    note: z.string().max(200).optional(),
  })
  .strict();
const idempotencyHeaders = z.object({
  'idempotency-key': z.string().regex(/^[!-~]{8,255}$/, '8-255 printable ASCII characters, no spaces (a UUID is a good key)'),
});
const iso = z.string();

/** What GET /api/v1/balances answers for a member; exported for the benchmark's unmetered baseline route. */
export async function balancesOf(ctx: AppContext, member: { discordId: string; username: string }) {
  const rows = await ctx.services.ledger.balances(member);
  return { balances: rows.map((b) => ({ currency: b.currency.code, amount: b.amount.toString(), decimals: b.currency.decimals })) };
}

export const balancesSchema = z.object({ balances: z.array(z.object({ currency: z.string(), amount: z.string().describe('base units'), decimals: z.number().int() })) });

/**
 * The partner API, /api/v1: client-token routes (authenticated, burst-limited, metered) and the reporters' usage
 * report route. Errors are RFC 9457 problem+json (the admin API keeps its own shape).
 */
export async function partnerApiRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const quota = ctx.services.quota;

  await app.register(
    async (v1) => {
      v1.setErrorHandler(problemHandler(ctx.config.API_BURST_PER_SECOND));
      v1.setNotFoundHandler((req, reply) => sendProblem(reply, req, 404, 'not_found', `No route ${req.method} ${req.url.split('?')[0]}`));
      v1.addHook('onRoute', (route) => {
        route.schema = {
          ...route.schema,
          tags: ['partner API'],
          response: { ...(route.schema?.response as object | undefined), '4xx': problemContent, '5xx': problemContent },
        };
      });

      // Client-token routes.
      await v1.register(async (client) => {
        client.addHook('onRoute', (route) => {
          route.schema = { ...route.schema, security: [{ [CLIENT_SECURITY]: [] }] };
        });
        client.addHook('onRequest', async (req) => {
          const caller = await quota.authenticate(req.headers.authorization);
          const origin = req.headers.origin;
          if (origin && caller.allowedOrigins.length && !caller.allowedOrigins.includes(origin)) {
            throw new UserError('ORIGIN_NOT_ALLOWED', `Origin ${origin} is not allowed for this client.`);
          }
          quota.takeBurst(caller.environmentId);
          req.apiCaller = caller;
        });
        // After validation, so malformed requests are not counted.
        client.addHook('preHandler', async (req, reply) => {
          const method = req.routeOptions.config.quotaMethod;
          if (!method) return;
          const check = await quota.meterRequest(req.apiCaller!, method);
          rateLimitHeaders(reply, check, ctx.config.API_BURST_PER_SECOND);
        });
        registerClientRoutes(client, ctx);
      });

      // Reporter-token routes.
      await v1.register(async (reporter) => {
        reporter.addHook('onRoute', (route) => {
          route.schema = { ...route.schema, security: [{ [REPORTER_SECURITY]: [] }] };
        });
        reporter.addHook('onRequest', async (req) => {
          req.reporter = await quota.authenticateReporter(req.headers.authorization);
        });
        const api = reporter.withTypeProvider<ZodTypeProvider>();
        api.post(
          '/usage-reports',
          {
            bodyLimit: 4 * 1024,
            schema: {
              summary: 'Report usage a service metered itself (idempotent per reportId)',
              body: z
                .object({
                  reportId: z.string().regex(/^[\w.:-]{1,128}$/, '1-128 characters: letters, digits, _ . : -'),
                  environmentId: z.string().regex(/^[1-9]\d{0,18}$/, 'the client environment id').describe('client token id (environment id)'),
                  method: z.string().min(1).max(64),
                  segments: z.number().int().min(1).max(1_000_000_000),
                })
                .strict(),
              response: { 200: z.object({ accepted: z.literal(true), replayed: z.boolean(), periodStart: iso }) },
            },
          },
          async (req) => {
            const b = req.body;
            const r = await quota.report(req.reporter!.reporterId, { reportId: b.reportId, environmentId: BigInt(b.environmentId), method: b.method, segments: BigInt(b.segments) });
            return { accepted: true as const, replayed: r.replayed, periodStart: r.periodStart.toISOString() };
          },
        );
      });
    },
    { prefix: '/api/v1' },
  );
}

function registerClientRoutes(client: FastifyInstance, ctx: AppContext) {
  const api = client.withTypeProvider<ZodTypeProvider>();
  const { quota, ledger } = ctx.services;
  const caller = (req: FastifyRequest) => req.apiCaller!;

  api.get(
    '/me',
    {
      config: { quotaMethod: 'api.me' },
      schema: {
        summary: 'The member the token acts for, and the client',
        response: { 200: z.object({ discordId: z.string(), username: z.string(), client: z.object({ id: z.string(), name: z.string(), environment: z.string() }) }) },
      },
    },
    async (req) => {
      const c = caller(req);
      return { discordId: c.discordId, username: c.username, client: { id: String(c.clientId), name: c.clientName, environment: c.environment } };
    },
  );

  api.get(
    '/balances',
    { config: { quotaMethod: 'api.balances' }, schema: { summary: "The member's balances, every currency", response: { 200: balancesSchema } } },
    async (req) => balancesOf(ctx, caller(req)),
  );

  api.get(
    '/history',
    {
      config: { quotaMethod: 'api.history' },
      schema: {
        summary: "The member's journal, newest first",
        querystring: z.object({ page: z.coerce.number().int().min(1).max(100_000).default(1) }).strict(),
        response: {
          200: z.object({
            page: z.number().int(),
            pages: z.number().int(),
            total: z.number().int(),
            entries: z.array(
              z.object({ id: z.string(), type: z.string(), direction: z.enum(['in', 'out']), amount: z.string(), currency: z.string(), counterparty: z.string().nullable(), createdAt: iso }),
            ),
          }),
        },
      },
    },
    async (req) => {
      const h = await ledger.history(caller(req), req.query.page);
      return {
        page: h.page,
        pages: h.pages,
        total: h.total,
        entries: h.entries.map((e) => ({ id: String(e.id), type: e.type, direction: e.direction, amount: e.amount.toString(), currency: e.currency, counterparty: e.counterparty, createdAt: e.createdAt.toISOString() })),
      };
    },
  );

  api.post(
    '/tips',
    {
      bodyLimit: 4 * 1024,
      config: { quotaMethod: 'api.tips' },
      schema: {
        summary: "Tip a member from the token owner's balance (Idempotency-Key required)",
        headers: idempotencyHeaders,
        body: tipBody,
        response: {
          200: z.object({ tipId: z.string(), to: z.string(), amount: z.string().describe('base units'), currency: z.string(), replayed: z.boolean() }),
        },
      },
    },
    async (req) => {
      const c = caller(req);
      const key = req.headers['idempotency-key'];
      const body = req.body;
      const bodyHash = createHash('sha256').update(JSON.stringify([body.to, body.amount, body.currency ?? null, body.note ?? null])).digest('hex');
      // One round trip: the key is claimed (and the receiver looked up) inside the tip's own transaction, so a failed
      // tip leaves the key free for a corrected retry and a concurrent duplicate waits for the first, then replays it.
      const result = await ledger.tip({
        interactionId: `api:${c.environmentId}:${key}`,
        sender: { discordId: c.discordId, username: c.username },
        // The API names members by id: ledger_tip() refuses an unknown one rather than creating it, so no name is needed.
        receivers: [{ discordId: body.to, username: '' }],
        amount: body.amount,
        currency: body.currency ?? null,
        note: body.note ?? null,
        apiKey: { environmentId: c.environmentId, key, bodyHash },
      });
      return { tipId: String(result.tipIds[0]), to: body.to, amount: result.total.toString(), currency: result.currency.code, replayed: result.replayed };
    },
  );

  api.get(
    '/users/:discordId/reputation',
    {
      config: { quotaMethod: 'api.reputation' },
      schema: {
        summary: "A member's badge tier and reputation score (404 reputation_not_available for a member the bot does not know)",
        params: z.object({ discordId: snowflake }),
        response: { 200: z.object({ discordId: z.string(), tier: z.string(), score: z.number() }) },
      },
    },
    async (req) => {
      const rep = await quota.reputation.reputation(req.params.discordId);
      if (!rep) throw new UserError('REPUTATION_NOT_AVAILABLE', `No reputation is available for ${req.params.discordId}.`);
      return { discordId: req.params.discordId, ...rep };
    },
  );

  api.get(
    '/quota',
    {
      schema: {
        summary: "The member's allowances and usage in the current period (not metered)",
        response: {
          200: z.object({
            periodStart: iso,
            periodEnd: iso,
            general: z.object({ allowance: z.string() }),
            methods: z.array(z.object({ method: z.string(), used: z.string(), allowance: z.string().nullable() })),
            total: z.object({ used: z.string(), allowance: z.string() }),
          }),
        },
      },
    },
    async (req) => {
      const s = (await quota.status(caller(req)))!;
      const methods = new Set([...s.used.keys(), ...s.allowance.perMethod.keys()]);
      return {
        periodStart: s.periodStart.toISOString(),
        periodEnd: s.periodEnd.toISOString(),
        general: { allowance: s.allowance.general.toString() },
        methods: [...methods].sort().map((m) => ({ method: m, used: (s.used.get(m) ?? 0n).toString(), allowance: s.allowance.perMethod.get(m)?.toString() ?? null })),
        total: { used: s.total.toString(), allowance: s.allowanceTotal.toString() },
      };
    },
  );
}
