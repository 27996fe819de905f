import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateToLatest } from '../../db/migrator';
import { createLogger } from '../../logger';
import { migrateToBefore } from '../../testing/migrate-to';
import { createTestDatabase, type TestDatabase } from '../../testing/test-db';
import { deliverDms, DM_MAX_ATTEMPTS, enqueueDm, type DmPort } from './dm-outbox';

// The member-DM outbox on a real database. The port is the test's recorder of what reached "Discord" (the billing
// e2e and crash tests drive the real one through the emulator and a killed process).

let t: TestDatabase;
const log = createLogger('silent');
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t?.drop());

const USER = '980000000000000001';
let seq = 0;
const key = (what: string) => `test.${what}:${++seq}`;
const owe = (k: string, content = `hello ${k}`, discordId = USER) => t.db.transaction().execute((trx) => enqueueDm(trx, { key: k, discordId, content }));
const row = (k: string) => t.db.selectFrom('dm_outbox').selectAll().where('key', '=', k).executeTakeFirst();

function recorder(behaviour: (n: number, content: string) => 'sent' | 'refused' | Error = () => 'sent'): DmPort & { got: string[] } {
  const got: string[] = [];
  return {
    got,
    async send(discordId, content) {
      const outcome = behaviour(got.length, content);
      got.push(`${discordId} ${content}`);
      if (outcome instanceof Error) throw outcome;
      return outcome;
    },
  };
}

describe('dm outbox', () => {
  it('is owed only if the transaction commits, and once per key', async () => {
    const k = key('rollback');
    await expect(
      t.db.transaction().execute(async (trx) => {
        await enqueueDm(trx, { key: k, discordId: USER, content: 'never' });
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    expect(await row(k)).toBeUndefined();

    const once = key('once');
    expect(await owe(once)).toBe(true);
    expect(await owe(once, 'a second copy')).toBe(false);
    expect(await t.db.selectFrom('dm_outbox').select('content').where('key', '=', once).execute()).toEqual([{ content: `hello ${once}` }]);
    await expect(owe(key('long'), 'x'.repeat(2001))).rejects.toThrow(/2001 characters/);
  });

  it('waits for a process with Discord, sends each owed DM once, only the given keys when asked', async () => {
    const [a, b] = [key('a'), key('b')];
    await owe(a);
    await owe(b);
    expect(await deliverDms({ db: t.db, log })).toEqual({ sent: 0, refused: 0, retried: 0 });
    expect((await row(a))?.attempts).toBe(0);

    const port = recorder();
    expect(await deliverDms({ db: t.db, log, dms: port }, { keys: [b] })).toEqual({ sent: 1, refused: 0, retried: 0 });
    expect(port.got).toEqual([`${USER} hello ${b}`]);
    // Two replicas at once: SKIP LOCKED and the lease keep them apart.
    const runs = await Promise.all([deliverDms({ db: t.db, log, dms: port }), deliverDms({ db: t.db, log, dms: port })]);
    expect(runs[0]!.sent + runs[1]!.sent).toBeGreaterThanOrEqual(1);
    expect(port.got.filter((g) => g.endsWith(a))).toHaveLength(1);
    expect(await deliverDms({ db: t.db, log, dms: port })).toEqual({ sent: 0, refused: 0, retried: 0 });
    expect(await row(a)).toMatchObject({ sent_at: expect.any(Date), attempts: 1, last_error: null });
  });

  it('retries a failed send after a backoff, gives up on a final refusal or after the attempts run out', async () => {
    const [flaky, closed, broken] = [key('flaky'), key('closed'), key('broken')];
    await owe(flaky, 'flaky');
    await owe(closed, 'closed');
    const port = recorder((n, content) => (content === 'closed' ? 'refused' : n === 0 ? new Error('503 upstream') : 'sent'));
    expect(await deliverDms({ db: t.db, log, dms: port })).toEqual({ sent: 0, refused: 1, retried: 1 });
    expect(await row(flaky)).toMatchObject({ sent_at: null, claimed_until: expect.any(Date), attempts: 1, last_error: '503 upstream' });
    expect(await row(closed)).toMatchObject({ sent_at: expect.any(Date), last_error: 'refused by Discord' });
    expect(await deliverDms({ db: t.db, log, dms: port })).toEqual({ sent: 0, refused: 0, retried: 0 });
    // The backoff has run out.
    await t.db.updateTable('dm_outbox').set({ claimed_until: sql`now() - interval '1 second'` }).where('key', '=', flaky).execute();
    expect(await deliverDms({ db: t.db, log, dms: port })).toEqual({ sent: 1, refused: 0, retried: 0 });
    expect(await row(flaky)).toMatchObject({ sent_at: expect.any(Date), attempts: 2 });

    await owe(broken, 'broken');
    await t.db.updateTable('dm_outbox').set({ attempts: DM_MAX_ATTEMPTS - 1 }).where('key', '=', broken).execute();
    expect(await deliverDms({ db: t.db, log, dms: recorder(() => new Error('still down')) })).toEqual({ sent: 0, refused: 1, retried: 0 });
    expect(await row(broken)).toMatchObject({ sent_at: expect.any(Date), attempts: DM_MAX_ATTEMPTS, last_error: 'still down' });
  });

  it('a claimed DM whose sender died is sent by another once the lease runs out', async () => {
    const k = key('lease');
    await owe(k);
    // A sender claimed it and died (its lease still runs).
    await t.db.updateTable('dm_outbox').set({ claimed_until: sql`now() + interval '1 minute'`, attempts: 1 }).where('key', '=', k).execute();
    const port = recorder();
    expect(await deliverDms({ db: t.db, log, dms: port })).toEqual({ sent: 0, refused: 0, retried: 0 });
    await t.db.updateTable('dm_outbox').set({ claimed_until: sql`now() - interval '1 second'` }).where('key', '=', k).execute();
    expect(await deliverDms({ db: t.db, log, dms: port })).toEqual({ sent: 1, refused: 0, retried: 0 });
    expect(await row(k)).toMatchObject({ attempts: 2, sent_at: expect.any(Date) });
  });

  it('migration 2026_11_28_226000_dm_outbox goes down and up again', async () => {
    await migrateToBefore(t.db, '2026_11_28_226000_dm_outbox');
    const exists = async () => (await sql<{ n: number }>`select count(*)::int as n from pg_tables where tablename = 'dm_outbox'`.execute(t.db)).rows[0]!.n;
    expect(await exists()).toBe(0);
    await migrateToLatest(t.db);
    expect(await exists()).toBe(1);
    await owe(key('after-up'));
  });
});
