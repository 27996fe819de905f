import type { Kysely } from 'kysely';
import type { DB } from '../db/schema';
import { createMigrator, migrationStatus } from '../db/migrator';

// Migration tests: put a test database at a given step (up or down), write data as that schema did, then move on.

/** Migrates up or down to `name` (applied, everything after it not); throws the migration's own error. */
export async function migrateTo(db: Kysely<DB>, name: string): Promise<void> {
  const result = await createMigrator(db).migrateTo(name);
  if (result.error) throw result.error instanceof Error ? result.error : new Error(String(result.error));
}

/** The migration just before `name` (the schema `name` migrates from). */
export async function stepBefore(db: Kysely<DB>, name: string): Promise<string> {
  const names = (await migrationStatus(db)).map((m) => m.name);
  const i = names.indexOf(name);
  if (i < 1) throw new Error(`no migration before ${name}`);
  return names[i - 1]!;
}

/** Migrates to the step before `name`; returns that step's name (to come back to it after testing down). */
export async function migrateToBefore(db: Kysely<DB>, name: string): Promise<string> {
  const previous = await stepBefore(db, name);
  await migrateTo(db, previous);
  return previous;
}
