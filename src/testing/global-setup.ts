import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import type { TestProject } from 'vitest/node';
import { createDb, createPool, withDatabase } from '../db/database';
import { startEmbeddedPostgres, freePort } from '../db/embedded-postgres';
import { migrateToLatest } from '../db/migrator';
import { createLogger } from '../logger';
import { TEMPLATE_DB } from './constants';

declare module 'vitest' {
  export interface ProvidedContext {
    pgUrl: string;
  }
}

/** One embedded PostgreSQL for the whole run, holding a migrated template database that test files clone. */
export default async function setup(project: TestProject) {
  const log = createLogger('warn', 'test-pg');
  const dataDir = await mkdtemp(path.join(tmpdir(), 'solbound-test-pg-'));
  const port = process.env.TEST_PG_PORT ? Number(process.env.TEST_PG_PORT) : await freePort();
  // Durability is irrelevant for throwaway test data; these make CREATE DATABASE and commits much cheaper.
  const pg = await startEmbeddedPostgres({
    dataDir,
    port,
    log,
    flags: ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=400'],
  });
  const admin = createDb(createPool(pg.url, 1));
  try {
    await sql.raw(`CREATE DATABASE ${TEMPLATE_DB}`).execute(admin);
  } finally {
    await admin.destroy();
  }
  const template = createDb(createPool(withDatabase(pg.url, TEMPLATE_DB), 1));
  try {
    await migrateToLatest(template);
  } finally {
    await template.destroy();
  }
  project.provide('pgUrl', pg.url);

  return async () => {
    await pg.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
}
