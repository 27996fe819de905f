import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../testing/test-db';
import { UsersService } from './users.service';

let t: TestDatabase;
let users: UsersService;
beforeAll(async () => {
  t = await createTestDatabase();
  users = new UsersService(t.db);
});
afterAll(() => t.drop());

describe('UsersService', () => {
  it('ensure() creates once and refreshes the username, concurrently safe', async () => {
    const results = await Promise.all(Array.from({ length: 10 }, () => users.ensure('300000000000000001', 'carol')));
    expect(new Set(results.map((u) => u.id)).size).toBe(1);
    const renamed = await users.ensure('300000000000000001', 'carol2');
    expect(renamed.id).toBe(results[0]!.id);
    expect(renamed.username).toBe('carol2');
    expect(await t.db.selectFrom('users').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirst()).toEqual({ n: 1n });
  });

  it('roles default to USER and can be changed', async () => {
    const u = await users.ensure('300000000000000002', 'dave');
    expect(await users.roleOf('300000000000000002')).toBe('USER');
    await users.setRole(u.id, 'SUPPORT');
    expect(await users.roleOf('300000000000000002')).toBe('SUPPORT');
    expect(await users.roleOf('300000000000000099')).toBe('USER');
  });

  it('rejects a non-snowflake discord id at the database', async () => {
    await expect(users.ensure('not-a-snowflake', 'x')).rejects.toThrow(/users_discord_id_snowflake/);
  });
});
