import { Validator } from '@seriousme/openapi-schema-validator';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics } from '../metrics';
import { appModules } from '../modules';
import { createTestContext } from '../testing/test-context';
import { createTestDatabase, type TestDatabase } from '../testing/test-db';
import { ADMIN_SECURITY, CLIENT_SECURITY, createHttpServer, REPORTER_SECURITY } from './server';

interface Operation {
  security?: Array<Record<string, string[]>>;
  responses: Record<string, { description?: string; content?: Record<string, { schema?: unknown }> }>;
}
type Doc = { openapi: string; paths: Record<string, Record<string, Operation>> };

let t: TestDatabase;
let app: FastifyInstance;
let bare: FastifyInstance;

beforeAll(async () => {
  t = await createTestDatabase();
  const ctx = createTestContext(t, { ADMIN_TOKEN: 'openapi-test-admin-token-0001' });
  // Every module's routes, exactly as startApp collects them, so a route a new module adds is checked too.
  app = await createHttpServer({
    ctx,
    metrics: createMetrics(),
    plugins: appModules.flatMap((m) => m.routes ?? []),
    adminPlugins: appModules.flatMap((m) => m.adminRoutes ?? []),
  });
  // A route somebody adds without schemas.
  bare = await createHttpServer({ ctx, metrics: createMetrics(), plugins: [(scope) => void scope.get('/undocumented', async () => ({ ok: true }))] });
});
afterAll(async () => {
  await app?.close();
  await bare?.close();
  await t?.drop();
});

/**
 * What Fastify's router holds, as OpenAPI "METHOD /path" (HEAD routes are Fastify's automatic copies of GET).
 * printRoutes draws a tree: each child's path continues its parent's, four columns deeper.
 */
function registeredRoutes(server: FastifyInstance): string[] {
  const routes: string[] = [];
  const stack: string[] = [];
  for (const line of server.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^(.*?)── (\S+)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m) continue;
    const depth = (m[1]!.length - 1) / 4;
    stack.length = depth;
    const path = (stack[depth - 1] ?? '') + m[2]!;
    stack.push(path);
    for (const method of m[3]?.split(', ') ?? []) if (method !== 'HEAD') routes.push(`${method} ${path.replace(/:(\w+)/g, '{$1}')}`);
  }
  return routes.sort();
}

/** Routes missing from the document, or present without a declared success response (i.e. without schemas). */
function undocumented(server: FastifyInstance, doc: Doc): string[] {
  return registeredRoutes(server).filter((route) => {
    const [method, path] = route.split(' ') as [string, string];
    const op = doc.paths[path]?.[method.toLowerCase()];
    return !op || !Object.entries(op.responses).some(([status, r]) => /^2/.test(status) && r.content);
  });
}

const fetchDoc = async (server: FastifyInstance) => {
  const res = await server.inject('/openapi.json');
  expect(res.statusCode).toBe(200);
  return res.json<Doc>();
};

describe('GET /openapi.json', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const doc = await fetchDoc(app);
    expect(doc.openapi).toBe('3.1.0');
    const result = await new Validator().validate(doc as unknown as Parameters<Validator['validate']>[0]);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    // The validator does reject a broken document.
    const { info: _info, ...broken } = doc as unknown as Record<string, unknown>;
    expect((await new Validator().validate(broken as Parameters<Validator['validate']>[0])).valid).toBe(false);
  });

  it('lists every route Fastify registered, each with its schemas', async () => {
    const doc = await fetchDoc(app);
    const routes = registeredRoutes(app);
    expect(routes).toEqual(
      expect.arrayContaining([
        'GET /healthz',
        'GET /readyz',
        'GET /metrics',
        'GET /openapi.json',
        'GET /link/{nonce}',
        'GET /api/wallet/message',
        'POST /api/wallet/verify',
        'GET /admin/users/{discordId}',
        'GET /admin/tickets',
        'GET /admin/tickets/{ticketId}',
        'PATCH /admin/tickets/{ticketId}',
        'GET /admin/withdraw-methods',
        'PATCH /admin/withdraw-methods/{currency}',
      ]),
    );
    expect(undocumented(app, doc)).toEqual([]);
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    expect(documented.sort()).toEqual(routes);
  });

  it('marks exactly the /admin routes with the admin bearer scheme and /api/v1 with the partner ones', async () => {
    const doc = await fetchDoc(app);
    const schemes = (doc as unknown as { components: { securitySchemes: Record<string, unknown> } }).components.securitySchemes;
    expect(schemes[ADMIN_SECURITY]).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(schemes[CLIENT_SECURITY]).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(schemes[REPORTER_SECURITY]).toMatchObject({ type: 'http', scheme: 'bearer' });
    const partner = (path: string) => [{ [path === '/api/v1/usage-reports' ? REPORTER_SECURITY : CLIENT_SECURITY]: [] }];
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const expected = path.startsWith('/admin/') ? [{ [ADMIN_SECURITY]: [] }] : path.startsWith('/api/v1/') ? partner(path) : undefined;
        expect(op.security, `${method} ${path}`).toEqual(expected);
      }
    }
    // The partner API documents its errors as problem+json.
    expect(Object.keys(doc.paths['/api/v1/balances']!.get!.responses['4XX']!.content!)).toEqual(['application/problem+json']);
  });

  it('documents request schemas and the error shape', async () => {
    const doc = await fetchDoc(app);
    const patch = doc.paths['/admin/tickets/{ticketId}']!.patch as unknown as { requestBody: { content: Record<string, { schema: { properties: object } }> } };
    expect(Object.keys(patch.requestBody.content['application/json']!.schema.properties)).toEqual(['status', 'priority', 'claim', 'close_reason']);
    expect(Object.keys(doc.paths['/api/wallet/verify']!.post!.responses).sort()).toEqual(['200', '4XX', '5XX']);
  });

  it('a route registered without schemas fails the check', async () => {
    expect(undocumented(bare, await fetchDoc(bare))).toEqual(['GET /undocumented']);
  });
});
