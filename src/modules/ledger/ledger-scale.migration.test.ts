import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DB } from '../../db/schema';
import { createMigrator, migrateToLatest, migrationStatus } from '../../db/migrator';
import { migrateTo, migrateToBefore } from '../../testing/migrate-to';
import { createTestDatabase, type TestDatabase } from '../../testing/test-db';

// Migration 2026_11_28_130000_ledger_scale on a copy with data: tips written by the previous ledger_tip() must read
// the same through the new `tips` view, and again from the recreated table after down.

const MIGRATION = '2026_11_28_130000_ledger_scale';
let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t.drop());

const JOURNAL_COLUMNS = sql`id, type, from_user_id, to_user_id, amount, currency, status, idempotency_key, ref, created_at`;
const TIP_COLUMNS = sql`id, interaction_id, leg, kind, sender_id, receiver_id, amount, currency, note, created_at, guild_id`;

type Row = Record<string, unknown>;
interface TipView extends Row {
  id: bigint;
  interaction_id: string;
  sender_id: bigint;
  amount: bigint;
}

async function read(db: Kysely<DB>, balancesFrom: 'balances' | 'account_balances') {
  const [tips, journal, balances, airdrops] = await Promise.all([
    sql<TipView>`select ${TIP_COLUMNS} from tips order by id`.execute(db),
    sql<Row>`select ${JOURNAL_COLUMNS} from journal order by id`.execute(db),
    sql<Row>`select user_id, currency, amount from ${sql.table(balancesFrom)} order by user_id, currency`.execute(db),
    sql<Row>`select * from airdrops order by id`.execute(db),
  ]);
  return { tips: tips.rows, journal: journal.rows, balances: balances.rows, airdrops: airdrops.rows };
}

async function oldTip(interaction: string, kind: string, each: bigint, note: string | null, sender: string, receivers: string[], guild: string | null) {
  return sql`select * from ledger_tip(${interaction}, ${kind}, 'SOL', ${each.toString()}::numeric, ${note}, ${sender}, ${'u' + sender},
    ${receivers}::text[], ${receivers.map((r) => 'u' + r)}::text[], ${guild}::text)`.execute(t.db);
}

describe(`migration ${MIGRATION}`, () => {
  it('keeps every tip, journal and airdrop row readable the same way, up and down', async () => {
    await migrateToBefore(t.db, MIGRATION);

    // Data as the previous schema wrote it: funding, tips with notes and guilds, a multi-recipient tip, rain, a
    // failed (rolled back) tip that burns ids, and an airdrop with a claim.
    await sql`insert into users (discord_id, username) select (600000000000000000 + g)::text, 'u' || g from generate_series(1, 6) g`.execute(t.db);
    await sql`insert into balances (user_id, currency, amount) select id, 'SOL', 100000 from users`.execute(t.db);
    await sql`insert into journal (type, to_user_id, amount, currency, idempotency_key, ref)
      select 'admin_credit', id, 100000, 'SOL', 'admin_credit:mig-' || id, 'by test' from users`.execute(t.db);
    const [a, b, c, d] = ['600000000000000001', '600000000000000002', '600000000000000003', '600000000000000004'];
    await oldTip('i-1', 'tip', 100n, 'thanks', a, [b], '800000000000000001');
    await oldTip('i-2', 'tip', 50n, null, b, [a, c, d], null);
    await expect(oldTip('i-3', 'tip', 10_000_000n, null, c, [a], null)).rejects.toMatchObject({ code: 'SB001' });
    await oldTip('i-4', 'rain', 7n, null, d, [a, b], '800000000000000002');
    await sql`with ad as (
        insert into airdrops (interaction_id, creator_id, currency, total_amount, per_claim_amount, claims_allowed, remaining_amount, expires_at)
        select 'ad-1', id, 'SOL', 300, 100, 3, 300, now() + interval '1 hour' from users where discord_id = ${c} returning id, creator_id
      ), esc as (
        update balances set amount = amount - 300 where user_id = (select creator_id from ad) and currency = 'SOL'
      )
      insert into journal (type, from_user_id, amount, currency, idempotency_key, ref)
      select 'airdrop_escrow', creator_id, 300, 'SOL', 'airdrop_escrow:ad-1', 'airdrop:' || id from ad`.execute(t.db);
    const old = await read(t.db, 'balances');
    expect(old.tips).toHaveLength(6);

    await migrateTo(t.db, MIGRATION);
    const up = await read(t.db, 'account_balances');
    expect(up).toEqual(old);
    // A retried old interaction replays with its old tip ids.
    const { rows: replay } = await oldTip('i-2', 'tip', 50n, null, b, [a, c, d], null);
    expect(replay[0]).toMatchObject({ replayed: true, tip_ids: old.tips.filter((x) => x.interaction_id === 'i-2').map((x) => String(x.id)) });
    // The leaderboard aggregate starts from the old tips.
    const { rows: board } = await sql<{ sender_id: bigint; total: bigint; tips: bigint }>`
      select sender_id, sum(total) as total, sum(tips) as tips from tip_totals_daily group by sender_id order by sender_id`.execute(t.db);
    const expected = new Map<string, { total: bigint; tips: bigint }>();
    for (const tip of old.tips) {
      const e = expected.get(String(tip.sender_id)) ?? { total: 0n, tips: 0n };
      expected.set(String(tip.sender_id), { total: e.total + tip.amount, tips: e.tips + 1n });
    }
    expect(board.map((r) => [String(r.sender_id), r.total, r.tips])).toEqual([...expected].map(([s, e]) => [s, e.total, e.tips]).sort());

    // New tips after up: one to a receiver without a balance row stays an unfolded credit until down folds it.
    await sql`insert into users (discord_id, username) values ('600000000000000099', 'fresh')`.execute(t.db);
    await oldTip('i-5', 'tip', 30n, 'new', a, ['600000000000000099', b], '800000000000000001');
    const withNew = await read(t.db, 'account_balances');
    expect(withNew.tips.slice(0, 6)).toEqual(old.tips);
    expect(withNew.tips.slice(6)).toMatchObject([
      { interaction_id: 'i-5', leg: 0, kind: 'tip', amount: 30n, note: 'new', guild_id: '800000000000000001' },
      { interaction_id: 'i-5', leg: 1, kind: 'tip', amount: 30n, note: 'new', guild_id: '800000000000000001' },
    ]);
    // Old tip ids and new journal ids never collide in the view.
    expect(new Set(withNew.tips.map((x) => String(x.id))).size).toBe(8);

    await createMigrator(t.db).migrateDown();
    expect((await migrationStatus(t.db)).find((m) => m.name === MIGRATION)?.executedAt).toBeUndefined();
    const down = await read(t.db, 'balances');
    expect(down.tips).toEqual(withNew.tips);
    expect(down.balances).toEqual(withNew.balances);
    expect(down.airdrops).toEqual(withNew.airdrops);
    // Journal rows are unchanged except that the new tips get the old 'tip:<id>' ref.
    expect(down.journal.map((j) => ({ ...j, ref: null }))).toEqual(withNew.journal.map((j) => ({ ...j, ref: null })));
    expect(down.journal.slice(0, old.journal.length)).toEqual(old.journal);
    // The old ledger_tip() works again and its idempotency claim covers tips made while migrated.
    expect((await oldTip('i-5', 'tip', 30n, 'new', a, ['600000000000000099', b], null)).rows[0]).toMatchObject({ replayed: true });

    await migrateToLatest(t.db);
    const again = await read(t.db, 'account_balances');
    expect(again.tips).toEqual(down.tips);
    expect(again.balances).toEqual(down.balances);
  });
});
