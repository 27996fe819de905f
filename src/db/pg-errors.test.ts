import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../testing/test-db';
import { LockNamespace, withTryAdvisoryLock } from './advisory-lock';
import { isRetryable, isUniqueViolation, ledgerFailure, retryOnSerialization } from './pg-errors';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t.drop());

/** The error Postgres itself raises for `statement`. */
async function pgError(statement: ReturnType<typeof sql>): Promise<unknown> {
  return statement.execute(t.db).then(
    () => expect.fail('statement succeeded'),
    (err: unknown) => err,
  );
}

describe('pg-errors', () => {
  it('recognises a unique violation, optionally only on the named constraints', async () => {
    await sql`insert into users (discord_id, username) values ('800000000000000001', 'a')`.execute(t.db);
    const err = await pgError(sql`insert into users (discord_id, username) values ('800000000000000001', 'b')`);
    expect(isUniqueViolation(err)).toBe(true);
    expect(isUniqueViolation(err, ['users_discord_id_key'])).toBe(true);
    expect(isUniqueViolation(err, ['deposits_signature_key'])).toBe(false);
    expect(isUniqueViolation(new Error('not postgres'))).toBe(false);
    expect(isRetryable(err)).toBe(false);
  });

  it('the constraints services name in isUniqueViolation exist (a renamed one would silently stop matching)', async () => {
    const named = ['deposits_signature_key', 'tickets_source_interaction_id_key', 'wallet_registrations_address_key', 'chain_credentials_chain_address_key'];
    const { rows } = await sql<{ conname: string }>`select conname from pg_constraint where conname in (${sql.join(named)}) order by conname`.execute(t.db);
    expect(rows.map((r) => r.conname)).toEqual([...named].sort());
  });

  it("classifies the ledger's own SQLSTATEs", async () => {
    const insufficient = await pgError(sql`do $$ begin raise exception using errcode = 'SB001', message = 'insufficient funds', detail = '42'; end $$`);
    expect(ledgerFailure(insufficient)).toEqual({ kind: 'insufficient_funds', balance: 42n });
    const reused = await pgError(sql`do $$ begin raise exception using errcode = 'SB002', message = 'reused'; end $$`);
    expect(ledgerFailure(reused)).toEqual({ kind: 'idempotency_conflict' });
    expect(ledgerFailure(await pgError(sql`select 1/0`))).toBeUndefined();
  });

  it('retries serialization failures and deadlocks, and nothing else', async () => {
    const failing = (codes: string[]) => {
      let calls = 0;
      return {
        run: async () => {
          const code = codes[calls++];
          if (code) throw Object.assign(new Error(code), { code });
          return calls;
        },
        calls: () => calls,
      };
    };
    expect(await retryOnSerialization(failing(['40001', '40P01']).run)).toBe(3);
    const unique = failing(['23505']);
    await expect(retryOnSerialization(unique.run)).rejects.toMatchObject({ code: '23505' });
    expect(unique.calls()).toBe(1);
    const forever = failing(Array(10).fill('40001'));
    await expect(retryOnSerialization(forever.run, 3)).rejects.toMatchObject({ code: '40001' });
    expect(forever.calls()).toBe(3);
  });
});

describe('advisory-lock', () => {
  it('lets one holder in per (namespace, key); others get locked:false at once; released afterwards', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const first = withTryAdvisoryLock(t.db, LockNamespace.job, 'probe', () => held.then(() => 'first'));
    // Wait until the first holder really has the lock before contending.
    await expect.poll(async () => (await sql<{ n: number }>`select count(*)::int as n from pg_locks where locktype = 'advisory' and classid = ${LockNamespace.job}`.execute(t.db)).rows[0]!.n).toBe(1);
    expect(await withTryAdvisoryLock(t.db, LockNamespace.job, 'probe', async () => 'second')).toEqual({ locked: false });
    expect(await withTryAdvisoryLock(t.db, LockNamespace.withdrawal, 1n, async () => 'other namespace')).toEqual({ locked: true, value: 'other namespace' });
    release();
    expect(await first).toEqual({ locked: true, value: 'first' });
    expect(await withTryAdvisoryLock(t.db, LockNamespace.job, 'probe', async () => 'after')).toEqual({ locked: true, value: 'after' });
  });
});
