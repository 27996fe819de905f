import type { Kysely } from 'kysely';
import type { Config } from '../config';
import type { Logger } from '../logger';
import { createDb, createPool } from './database';
import { startEmbeddedPostgres } from './embedded-postgres';
import type { DB } from './schema';

export interface OpenDatabase {
  db: Kysely<DB>;
  url: string;
  embedded: boolean;
  close(): Promise<void>;
}

/** DATABASE_URL when set; otherwise the embedded cluster in PG_DATA_DIR (started here, stopped by close). */
export async function openDatabase(config: Config, log: Logger): Promise<OpenDatabase> {
  if (config.DATABASE_URL) {
    const db = createDb(createPool(config.DATABASE_URL, config.DB_POOL_MAX));
    return { db, url: config.DATABASE_URL, embedded: false, close: () => db.destroy() };
  }
  const pg = await startEmbeddedPostgres({ dataDir: config.PG_DATA_DIR, port: config.PG_PORT, log });
  log.info({ port: pg.port, dataDir: config.PG_DATA_DIR }, 'embedded postgres started');
  const db = createDb(createPool(pg.url, config.DB_POOL_MAX));
  return {
    db,
    url: pg.url,
    embedded: true,
    close: async () => {
      try {
        await db.destroy();
      } finally {
        await pg.stop();
      }
    },
  };
}
