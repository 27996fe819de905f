import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMigrator, migrateToLatest, migrationStatus } from '../../db/migrator';
import { migrateTo, migrateToBefore } from '../../testing/migrate-to';
import { createTestDatabase, type TestDatabase } from '../../testing/test-db';

// Migration 2026_11_28_221000_ledger_wal_diet on a copy with data: ledger_tip() changes how it credits receivers and
// how duplicate attempts take turns, nothing else. Tips written before read the same, replay with their old legs,
// and the credit rules (in place when nobody holds the row, unfolded otherwise) hold, up and down.

const MIGRATION = '2026_11_28_221000_ledger_wal_diet';
let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t.drop());

type Row = Record<string, unknown>;
const TIP_COLUMNS = sql`id, interaction_id, leg, kind, sender_id, receiver_id, amount, currency, note, created_at, guild_id`;

async function read() {
  const [tips, journal, balances] = await Promise.all([
    sql<Row>`select ${TIP_COLUMNS} from tips order by id`.execute(t.db),
    sql<Row>`select * from journal order by id`.execute(t.db),
    sql<Row>`select user_id, currency, amount from account_balances order by user_id, currency`.execute(t.db),
  ]);
  return { tips: tips.rows, journal: journal.rows, balances: balances.rows };
}

async function tip(interaction: string, kind: string, each: bigint, sender: string, receivers: string[]) {
  const { rows } = await sql<{ replayed: boolean; tip_ids: string[]; receiver_ids: string[] }>`
    select * from ledger_tip(${interaction}, ${kind}, 'SOL', ${each.toString()}::numeric, null, ${sender}, ${'u' + sender},
      ${receivers}::text[], ${receivers.map((r) => 'u' + r)}::text[], '800000000000000001'::text)`.execute(t.db);
  return rows[0]!;
}

/** Indexes a tip leg writes, and whether the catalog says which query each one serves. */
const indexComments = async () =>
  (
    await sql<{ index: string; why: string | null }>`
      select c.relname as index, obj_description(c.oid, 'pg_class') as why from pg_class c
      where c.relname in ('journal_idempotency_key_key', 'journal_from_user_idx', 'journal_to_user_idx', 'balance_credits_owner_idx')
      order by 1`.execute(t.db)
  ).rows;

const credits = async (discordId: string) =>
  (
    await sql<{ n: bigint }>`select count(*) as n from balance_credits c join users u on u.id = c.user_id where u.discord_id = ${discordId}`.execute(
      t.db,
    )
  ).rows[0]!.n;

describe(`migration ${MIGRATION}`, () => {
  it('keeps tips readable and replayable, and credits receivers in place only when nobody holds the row', async () => {
    await migrateToBefore(t.db, MIGRATION);

    await sql`insert into users (discord_id, username) select (610000000000000000 + g)::text, 'u' || g from generate_series(1, 5) g`.execute(t.db);
    await sql`insert into balances (user_id, currency, amount) select id, 'SOL', 100000 from users`.execute(t.db);
    await sql`insert into journal (type, to_user_id, amount, currency, idempotency_key)
      select 'admin_credit', id, 100000, 'SOL', 'admin_credit:wal-' || id from users`.execute(t.db);
    const [a, b, c, d] = ['610000000000000001', '610000000000000002', '610000000000000003', '610000000000000004'];
    const before = await tip('1300000000000000001', 'tip', 100n, a, [b]);
    const rainBefore = await tip('1300000000000000002', 'rain', 5n, b, [a, c, d]);
    await expect(tip('1300000000000000003', 'tip', 10_000_000n, c, [a])).rejects.toMatchObject({ code: 'SB001' });
    const old = await read();

    expect((await indexComments()).map((i) => i.why)).toEqual([null, null, null, null]);
    await migrateTo(t.db, MIGRATION);
    expect(await read()).toEqual(old);
    for (const i of await indexComments()) expect(i.why, i.index).toMatch(/ledger|history|claim/i);
    // Replays of tips written by the previous function return their legs, in leg order (and today's balance).
    const legs = ({ tip_ids, receiver_ids }: { tip_ids: string[]; receiver_ids: string[] }) => ({ tip_ids, receiver_ids });
    expect(await tip('1300000000000000001', 'tip', 100n, a, [b])).toMatchObject({ ...legs(before), replayed: true });
    expect(await tip('1300000000000000002', 'rain', 5n, b, [a, c, d])).toMatchObject({ ...legs(rainBefore), replayed: true });
    // More recipients than the first attempt under the same id is a different tip.
    await expect(tip('1300000000000000001', 'tip', 100n, a, [b, c])).rejects.toMatchObject({ code: 'SB002' });

    // Nobody holds c's row: credited in place, no unfolded credit. (Its last version carries the lock of c's rolled-
    // back tip above, which only sends this first credit the SKIP LOCKED way.)
    await tip('1300000000000000004', 'tip', 10n, a, [c]);
    await tip('1300000000000000010', 'tip', 10n, a, [c]);
    expect(await credits(c)).toBe(0n);

    // d's row is held by an open transaction: the tip neither waits for it nor writes it; it leaves a credit.
    const held = await t.db.connection().execute(async (conn) => {
      await sql`begin`.execute(conn);
      await sql`update balances set amount = amount - 1 where user_id = (select id from users where discord_id = ${d})`.execute(conn);
      const done = await tip('1300000000000000005', 'tip', 20n, a, [d]);
      expect(await credits(d)).toBe(1n);
      await sql`rollback`.execute(conn);
      return done;
    });
    expect(held).toMatchObject({ replayed: false, tip_ids: [expect.anything()] });
    // Released (rolled back): the next credit is in place again, and d's next debit folds the one left.
    await tip('1300000000000000006', 'tip', 20n, a, [d]);
    expect(await credits(d)).toBe(1n);
    await tip('1300000000000000007', 'tip', 1n, d, [a]);
    expect(await credits(d)).toBe(0n);
    await tip('1300000000000000008', 'tip', 3n, a, [d]);
    expect(await credits(d)).toBe(0n);

    const withNew = await read();
    expect(withNew.tips.slice(0, old.tips.length)).toEqual(old.tips);
    const sum = (rows: Row[]) => rows.reduce((s, r) => s + (r.amount as bigint), 0n);
    expect(sum(withNew.balances)).toBe(sum(old.balances));

    await createMigrator(t.db).migrateDown();
    expect((await migrationStatus(t.db)).find((m) => m.name === MIGRATION)?.executedAt).toBeUndefined();
    expect(await read()).toEqual(withNew);
    expect((await indexComments()).map((i) => i.why)).toEqual([null, null, null, null]);
    // The previous function replays tips made while migrated, and works for new ones.
    expect((await tip('1300000000000000005', 'tip', 20n, a, [d])).replayed).toBe(true);
    expect((await tip('1300000000000000009', 'tip', 2n, b, [c])).replayed).toBe(false);

    await migrateToLatest(t.db);
    expect((await tip('1300000000000000009', 'tip', 2n, b, [c])).replayed).toBe(true);
  });
});
