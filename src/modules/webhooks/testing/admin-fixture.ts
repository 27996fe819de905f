import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll } from 'vitest';
import type { AppContext } from '../../../app-context';
import { createHttpServer } from '../../../http/server';
import { createMetrics } from '../../../metrics';
import { Factory } from '../../../testing/factories';
import { createTestContext } from '../../../testing/test-context';
import { createTestDatabase, type TestDatabase } from '../../../testing/test-db';
import { webhookAdminRoutes } from '../webhooks.routes';
import { Receivers } from './receiver';

export interface WebhookAdminFixture {
  t: TestDatabase;
  /** Private receiver addresses allowed (the local receivers), admin API behind `token`. */
  ctx: AppContext;
  f: Factory;
  /** The HTTP server with the webhook admin routes. */
  http: FastifyInstance;
  receivers: Receivers;
}

/**
 * The webhook service and admin routes on a real database with local receivers (webhooks.e2e.test.ts,
 * webhooks.rotation.test.ts): registers the file's hooks and fills the returned object in beforeAll. After each test
 * every endpoint stops receiving, so one test's leftovers are never delivered in the next.
 */
export function useWebhookAdminFixture(token: string): Readonly<WebhookAdminFixture> {
  const fx = { receivers: new Receivers() } as WebhookAdminFixture;
  beforeAll(async () => {
    fx.t = await createTestDatabase();
    fx.ctx = createTestContext(fx.t, { WEBHOOKS_ALLOW_PRIVATE: 'true', ADMIN_TOKEN: token });
    fx.f = new Factory(fx.t.db);
    fx.http = await createHttpServer({ ctx: fx.ctx, metrics: createMetrics(), adminPlugins: [webhookAdminRoutes] });
  });
  afterEach(async () => {
    await fx.t.db.updateTable('webhook_endpoints').set({ active: false }).execute();
  });
  afterAll(async () => {
    await fx.http?.close();
    await fx.receivers.stopAll();
    await fx.ctx?.services.quota.stop();
    await fx.t?.drop();
  });
  return fx;
}
