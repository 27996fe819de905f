import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import swagger from '@fastify/swagger';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import {
  hasZodFastifySchemaValidationErrors,
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../app-context';
import { ping } from '../db/database';
import { migrationsCurrent } from '../db/migrator';
import { isUserError } from '../errors';
import type { Metrics } from '../metrics';
import { registerAdminRoutes } from './admin.routes';
import { errorResponses, statusOfUserError } from './error-status';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The `error` code of a request that fails its schema, for a route whose clients expect one code whatever part
     * was wrong. Without it: invalid_body, invalid_query, invalid_headers, or invalid_<param> (snake_case).
     */
    invalidRequestCode?: string;
  }
}

/** A route registrar: it declares each route's zod schemas (`app.withTypeProvider<ZodTypeProvider>()`). */
export type HttpPlugin = (app: FastifyInstance, ctx: AppContext) => void | Promise<void>;

export interface HttpServerDeps {
  ctx: AppContext;
  metrics: Metrics;
  /** Extra route plugins added by modules (wallet-link page, public API…). */
  plugins?: HttpPlugin[];
  /** Extra /admin route registrars added by modules; they run inside the bearer-guarded /admin scope. */
  adminPlugins?: HttpPlugin[];
  /**
   * An already listening node server to serve on (the app listens first to learn its URL); call `ready()` instead of
   * `listen()` then, and close this server after the instance.
   */
  server?: Server;
  /**
   * Further readiness checks by name (e.g. the Discord gateway): each returns 'ok' or why not; any other answer
   * makes /readyz 503 with that reason.
   */
  readinessChecks?: Record<string, () => string>;
}

/** The OpenAPI security scheme every /admin route carries (see adminGuard). */
export const ADMIN_SECURITY = 'adminBearer';
/** The partner API's schemes (src/modules/quota/quota.api.ts): client tokens and usage-reporter tokens. */
export const CLIENT_SECURITY = 'clientBearer';
export const REPORTER_SECURITY = 'reporterBearer';

export async function createHttpServer({ ctx, metrics, plugins = [], adminPlugins = [], server, readinessChecks = {} }: HttpServerDeps): Promise<FastifyInstance> {
  const app = Fastify({
    ...(server ? { serverFactory: (handler: (req: IncomingMessage, res: ServerResponse) => void) => server.on('request', handler) } : {}),
    // pino's Logger is a FastifyBaseLogger; the cast keeps the instance type the plain default one.
    loggerInstance: ctx.log.child({ mod: 'http' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 64 * 1024,
    trustProxy: ctx.config.HTTP_TRUST_PROXY,
  });
  // Requests are parsed and responses encoded by each route's zod schemas; the same schemas feed /openapi.json.
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // Registered first so its onRoute hook sees every route registered after it.
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Solbound HTTP API', version: '1' },
      components: {
        securitySchemes: {
          [ADMIN_SECURITY]: { type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN' },
          [CLIENT_SECURITY]: { type: 'http', scheme: 'bearer', description: 'API client token (sb_live_… / sb_test_…)' },
          [REPORTER_SECURITY]: { type: 'http', scheme: 'bearer', description: 'usage reporter token (sb_rep_…)' },
        },
      },
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });

  // Every route documents (and encodes) its error bodies with the one shape errorHandler sends.
  app.addHook('onRoute', (route) => {
    route.schema = { ...route.schema, response: { ...errorResponses, ...(route.schema?.response as object | undefined) } };
  });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({ error: 'not_found', message: `No route ${req.method} ${req.url.split('?')[0]}` }),
  );
  app.addHook('onResponse', async (req, reply) => {
    metrics.httpRequests.inc({ route: req.routeOptions.url ?? 'unmatched', status: `${Math.floor(reply.statusCode / 100)}xx` });
  });

  const api = app.withTypeProvider<ZodTypeProvider>();
  api.get('/healthz', { schema: { summary: 'Liveness', response: { 200: z.object({ status: z.literal('ok') }) } } }, async () => ({
    status: 'ok' as const,
  }));

  const readiness = z.object({
    status: z.enum(['ready', 'not_ready']),
    checks: z.record(z.string(), z.string()),
    ref: z.string().optional().describe('log reference id of a failed check'),
  });
  api.get(
    '/readyz',
    { schema: { summary: 'Readiness: database reachable, migrations current, Discord gateway shards up', response: { 200: readiness, 503: readiness } } },
    async (req, reply) => {
      const checks: Record<string, string> = {};
      let ref: string | undefined;
      try {
        await ping(ctx.db);
        checks.database = 'ok';
        checks.migrations = (await migrationsCurrent(ctx.db)) ? 'ok' : 'pending';
      } catch (err) {
        // The driver's message can name hosts, users and databases: it goes to the log, the probe gets a ref to it.
        ref = randomBytes(4).toString('hex');
        req.log.error({ err, ref }, 'readiness check: database unavailable');
        checks.database = 'unavailable';
      }
      for (const [name, check] of Object.entries(readinessChecks)) checks[name] = check();
      const ready = Object.values(checks).every((v) => v === 'ok') && checks.migrations !== undefined;
      return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks, ...(ref ? { ref } : {}) });
    },
  );

  api.get(
    '/metrics',
    { schema: { summary: 'Prometheus metrics', response: { 200: { content: { 'text/plain': { schema: z.string() } } } } } },
    async (_req, reply) => {
      reply.header('content-type', metrics.registry.contentType);
      return metrics.registry.metrics();
    },
  );

  api.get(
    '/openapi.json',
    { schema: { summary: 'This document (OpenAPI 3.1)', response: { 200: z.record(z.string(), z.unknown()) } } },
    async () => app.swagger() as unknown as Record<string, unknown>,
  );

  await app.register(
    async (admin) => {
      // Marks every /admin route, module ones included, with the bearer scheme in the OpenAPI document.
      admin.addHook('onRoute', (route) => {
        route.schema = { ...route.schema, security: [{ [ADMIN_SECURITY]: [] }], tags: route.schema?.tags ?? ['admin'] };
      });
      admin.addHook('onRequest', adminGuard(ctx.config.ADMIN_TOKEN));
      registerAdminRoutes(admin, ctx);
      for (const register of adminPlugins) await register(admin, ctx);
    },
    { prefix: '/admin' },
  );

  for (const plugin of plugins) await app.register(async (scope) => plugin(scope, ctx));
  return app;
}

const PART_NAME: Record<string, string> = { body: 'body', querystring: 'query', params: 'params', headers: 'headers' };

/**
 * The one error path of every route: a UserError gets its status from USER_ERROR_STATUS, a request that fails its
 * zod schema a 400 naming the bad fields, Fastify's own 4xx (bad JSON, body too large…) their status, and anything
 * else a logged 500 whose reference id is the only thing the client sees.
 */
function errorHandler(error: Error, req: FastifyRequest, reply: FastifyReply) {
  if (isUserError(error)) {
    return reply.code(statusOfUserError(error.code)).send({ error: error.code.toLowerCase(), message: error.message });
  }
  const err = error as FastifyError;
  if (hasZodFastifySchemaValidationErrors(err)) {
    const part = PART_NAME[err.validationContext ?? 'body'] ?? 'request';
    const fields = err.validation.map((v) => v.instancePath.slice(1).replaceAll('/', '.'));
    const message = err.validation.map((v, i) => `${fields[i] || part}: ${v.message}`).join('; ');
    const param = part === 'params' ? fields.find(Boolean)?.split('.')[0] : undefined;
    const code = req.routeOptions.config.invalidRequestCode ?? `invalid_${param ? snakeCase(param) : part}`;
    return reply.code(400).send({ error: code, message });
  }
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    return reply.code(err.statusCode).send({ error: 'bad_request', message: err.message });
  }
  const ref = randomBytes(4).toString('hex');
  req.log.error({ err, ref, url: req.url }, 'unhandled http error');
  return reply.code(500).send({ error: 'internal', message: `Internal error (ref ${ref})`, ref });
}

const snakeCase = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** Bearer-token guard compared in constant time (digests equalise the lengths). */
export function adminGuard(token: string | undefined) {
  const expected = token ? createHash('sha256').update(token).digest() : undefined;
  return async (req: FastifyRequest, reply: FastifyReply) => {
    if (!expected) {
      return reply.code(503).send({ error: 'admin_disabled', message: 'The admin API is disabled: set ADMIN_TOKEN' });
    }
    const header = req.headers.authorization ?? '';
    const match = /^Bearer (.+)$/.exec(header);
    const given = createHash('sha256').update(match?.[1] ?? '').digest();
    if (!match || !timingSafeEqual(given, expected)) {
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer')
        .send({ error: 'unauthorized', message: 'Missing or wrong bearer token' });
    }
  };
}
