import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
// kysely/migration is a 0.29 entry point, and 0.29 needs Node 22; on 0.28 (Node 20 here) the Migrator is in the root.
import { Migrator, type Kysely, type Migration, type MigrationInfo, type MigrationProvider, type MigrationResultSet } from 'kysely';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations', import.meta.url));

/**
 * Loads `migrations/*.ts` (or the `.js` of a build in dist/) by file name order (names start with a UTC timestamp).
 * A migration's name is its file name without the extension, so a database migrated from sources and one migrated
 * by the build agree on what has run.
 */
class FolderMigrationProvider implements MigrationProvider {
  constructor(private readonly dir: string) {}

  async getMigrations(): Promise<Record<string, Migration>> {
    const files = (await readdir(this.dir)).filter((f) => /^\d{4}_\d{2}_\d{2}_\d{6}_[\w-]+\.[jt]s$/.test(f)).sort();
    const out: Record<string, Migration> = {};
    for (const file of files) {
      const mod = (await import(pathToFileURL(path.join(this.dir, file)).href)) as Migration;
      out[file.replace(/\.[jt]s$/, '')] = { up: mod.up, ...(mod.down ? { down: mod.down } : {}) };
    }
    return out;
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations are frozen and typed against Kysely<any>
export function createMigrator(db: Kysely<any>, dir = MIGRATIONS_DIR): Migrator {
  return new Migrator({ db, provider: new FolderMigrationProvider(dir) });
}

function raise(result: MigrationResultSet): void {
  if (result.error) {
    const failed = result.results?.find((r) => r.status === 'Error');
    const err = result.error instanceof Error ? result.error : new Error(String(result.error));
    if (failed) err.message = `migration ${failed.migrationName} failed: ${err.message}`;
    throw err;
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function migrateToLatest(db: Kysely<any>): Promise<string[]> {
  const result = await createMigrator(db).migrateToLatest();
  raise(result);
  return (result.results ?? []).map((r) => r.migrationName);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function migrateDown(db: Kysely<any>): Promise<string[]> {
  const result = await createMigrator(db).migrateDown();
  raise(result);
  return (result.results ?? []).map((r) => r.migrationName);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function migrationStatus(db: Kysely<any>): Promise<readonly MigrationInfo[]> {
  return createMigrator(db).getMigrations();
}

/** True when every migration on disk has been applied. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function migrationsCurrent(db: Kysely<any>): Promise<boolean> {
  return (await migrationStatus(db)).every((m) => m.executedAt !== undefined);
}
