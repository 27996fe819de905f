import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../testing/test-db';
import { migrateDown, migrateToLatest, migrationStatus, migrationsCurrent } from './migrator';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t.drop());

async function tables(): Promise<string[]> {
  const { rows } = await sql<{ table_name: string }>`
    SELECT table_name FROM information_schema.tables
    WHERE table_schema = 'public' AND table_name NOT LIKE 'kysely_%' ORDER BY table_name`.execute(t.db);
  return rows.map((r) => r.table_name);
}

describe('migrations', () => {
  it('the template is fully migrated', async () => {
    expect(await migrationsCurrent(t.db)).toBe(true);
    expect(await tables()).toEqual(expect.arrayContaining(['users', 'federated_credentials', 'chain_credentials']));
  });

  it('every migration goes down and up again cleanly', async () => {
    const all = await migrationStatus(t.db);
    const before = await tables();
    for (let i = 0; i < all.length; i++) await migrateDown(t.db);
    expect(await tables()).toEqual([]);
    expect(await migrationsCurrent(t.db)).toBe(false);
    const applied = await migrateToLatest(t.db);
    expect(applied).toEqual(all.map((m) => m.name));
    expect(await tables()).toEqual(before);
  });

  it('updated_at is maintained by trigger', async () => {
    const u = await t.db
      .insertInto('users')
      .values({ discord_id: '100000000000000001', username: 'a' })
      .returningAll()
      .executeTakeFirstOrThrow();
    await sql`SELECT pg_sleep(0.01)`.execute(t.db);
    const v = await t.db.updateTable('users').set({ username: 'b' }).where('id', '=', u.id).returningAll().executeTakeFirstOrThrow();
    expect(v.updated_at.getTime()).toBeGreaterThan(u.updated_at.getTime());
    expect(typeof v.id).toBe('bigint');
  });
});
