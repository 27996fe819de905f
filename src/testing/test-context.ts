import type { AppContext, Effects } from '../app-context';
import { createServices } from '../app';
import { parseConfig, type Config } from '../config';
import { createLogger } from '../logger';
import type { TestDatabase } from './test-db';

/**
 * An AppContext over a test database, with real services and a quiet logger, for service and job tests. `effects`
 * are the ports a test wants to observe (no Discord otherwise). Tests that need Discord boot the app: test-app.ts.
 */
export function createTestContext(t: TestDatabase, env: Record<string, string> = {}, effects: Effects = {}): AppContext {
  const config: Config = parseConfig({ LOG_LEVEL: 'silent', DATABASE_URL: t.url, HTTP_PORT: '0', ...env });
  const log = createLogger(config.LOG_LEVEL);
  return { config, log, db: t.db, services: createServices(t.db, undefined, config, log, effects), effects };
}
