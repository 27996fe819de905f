import { randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { inject } from 'vitest';
import { createDb, createPool, withDatabase } from '../db/database';
import type { DB } from '../db/schema';
import { TEMPLATE_DB } from './constants';

export interface TestDatabase {
  db: Kysely<DB>;
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** A fresh database cloned from the migrated template: isolated, so test files can run in parallel. */
export async function createTestDatabase(opts: { poolMax?: number } = {}): Promise<TestDatabase> {
  const serverUrl = inject('pgUrl');
  const name = `t_${randomBytes(6).toString('hex')}`;
  const admin = createDb(createPool(serverUrl, 1));
  try {
    await sql.raw(`CREATE DATABASE ${name} TEMPLATE ${TEMPLATE_DB}`).execute(admin);
  } finally {
    await admin.destroy();
  }
  const url = withDatabase(serverUrl, name);
  const db = createDb(createPool(url, opts.poolMax ?? 10));
  return {
    db,
    url,
    name,
    drop: async () => {
      await db.destroy();
      const a = createDb(createPool(serverUrl, 1));
      try {
        await sql.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).execute(a);
      } finally {
        await a.destroy();
      }
    },
  };
}
