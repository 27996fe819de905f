import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { AppContext } from '../app-context';
import { ping } from '../db/database';
import { migrationsCurrent } from '../db/migrator';
import type { Metrics } from '../metrics';
import { registerAdminRoutes } from './admin.routes';
import { HttpError } from './http-error';

export { HttpError };

export interface HttpServerDeps {
  ctx: AppContext;
  metrics: Metrics;
  /** Extra route plugins added by modules (wallet-link page, public API…). */
  plugins?: ((app: FastifyInstance, ctx: AppContext) => void | Promise<void>)[];
  /** Extra /admin route registrars added by modules; they run inside the bearer-guarded /admin scope. */
  adminPlugins?: ((admin: FastifyInstance, ctx: AppContext) => void | Promise<void>)[];
}

export async function createHttpServer({ ctx, metrics, plugins = [], adminPlugins = [] }: HttpServerDeps): Promise<FastifyInstance> {
  const app = Fastify({
    // pino's Logger is a FastifyBaseLogger; the cast keeps the instance type the plain default one.
    loggerInstance: ctx.log.child({ mod: 'http' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 64 * 1024,
    trustProxy: ctx.config.HTTP_TRUST_PROXY,
  });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string; validation?: unknown }, req, reply) => {
    if (err instanceof HttpError) {
      return reply.code(err.statusCode).send({ error: err.code, message: err.message });
    }
    if (err.validation || (err.statusCode && err.statusCode >= 400 && err.statusCode < 500)) {
      return reply.code(err.statusCode ?? 400).send({ error: 'bad_request', message: err.message });
    }
    const ref = randomBytes(4).toString('hex');
    req.log.error({ err, ref, url: req.url }, 'unhandled http error');
    return reply.code(500).send({ error: 'internal', message: `Internal error (ref ${ref})`, ref });
  });
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({ error: 'not_found', message: `No route ${req.method} ${req.url.split('?')[0]}` }),
  );
  app.addHook('onResponse', async (req, reply) => {
    metrics.httpRequests.inc({ route: req.routeOptions.url ?? 'unmatched', status: `${Math.floor(reply.statusCode / 100)}xx` });
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (req, reply) => {
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
    const ready = Object.values(checks).every((v) => v === 'ok') && checks.migrations !== undefined;
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks, ...(ref ? { ref } : {}) });
  });
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  await app.register(async (admin) => {
    admin.addHook('onRequest', adminGuard(ctx.config.ADMIN_TOKEN));
    registerAdminRoutes(admin, ctx);
    for (const register of adminPlugins) await register(admin, ctx);
  }, { prefix: '/admin' });

  for (const plugin of plugins) await app.register(async (scope) => plugin(scope, ctx));
  return app;
}

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
