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

  it('operators come from BOT_OPERATOR_IDS at start (audited, never demoting) and role changes are audited once', async () => {
    const audit = () => t.db.selectFrom('audit_events').selectAll().where('target', 'like', 'user:3100%').orderBy('id').execute();
    expect(await users.seedOperators(['310000000000000001', '310000000000000002'])).toEqual(['310000000000000001', '310000000000000002']);
    expect(await users.isOperator('310000000000000001')).toBe(true);
    // A restart with the same list changes and records nothing.
    expect(await users.seedOperators(['310000000000000001'])).toEqual([]);
    expect(await users.isOperator('310000000000000002')).toBe(true);
    expect((await audit()).map((r) => [r.action, r.via, r.actor_discord_id, r.after])).toEqual([
      ['user.role', 'config', null, { role: 'ADMIN' }],
      ['user.role', 'config', null, { role: 'ADMIN' }],
    ]);
    const r = await users.changeRole('310000000000000002', 'USER', { discordId: null, via: 'admin-api' }, 'left the team');
    expect(r).toMatchObject({ changed: true, user: { role: 'USER' } });
    expect((await audit()).at(-1)).toMatchObject({ via: 'admin-api', before: { role: 'ADMIN' }, after: { role: 'USER' }, reason: 'left the team' });
    await expect(users.changeRole('nope', 'ADMIN', { discordId: null, via: 'admin-api' })).rejects.toThrow('A Discord user id is 15-22 digits.');
    expect(await audit()).toHaveLength(3);
  });

  it('rejects a non-snowflake discord id at the database', async () => {
    await expect(users.ensure('not-a-snowflake', 'x')).rejects.toThrow(/users_discord_id_snowflake/);
  });
});
