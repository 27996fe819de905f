import type { AppContext } from '../app-context';
import { createServices } from '../app';
import { parseConfig, type Config } from '../config';
import { createLogger } from '../logger';
import type { TestDatabase } from './test-db';

/** An AppContext over a test database, with real services and a quiet logger. */
export function createTestContext(t: TestDatabase, env: Record<string, string> = {}): AppContext {
  const config: Config = parseConfig({ LOG_LEVEL: 'silent', DATABASE_URL: t.url, HTTP_PORT: '0', ...env });
  const log = createLogger(config.LOG_LEVEL);
  return { config, log, db: t.db, services: createServices(t.db, undefined, config, log) };
}
