import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../config';
import { createMigrator, migrationStatus } from '../../db/migrator';
import { JobRunner } from '../../jobs/job-runner';
import { createTestContext } from '../../testing/test-context';
import { createTestDatabase, type TestDatabase } from '../../testing/test-db';
import ledgerRollup from './ledger-rollup.job';
import { BOARD_DAYS, rollupTipTotals, topTippers, type BoardPeriod, type BoardRow } from './ledger.repository';
import { LedgerService, type DiscordUserRef } from './ledger.service';

// The leaderboard rollup (migration 2026_11_28_190000) against the naive sum of the per-day rows, on random tips
// spread over many days, folded on random days (sometimes late, sometimes twice, sometimes a few days per
// transaction), and with folds running while real tips land.

let t: TestDatabase;
let ledger: LedgerService;
const GUILDS = ['810000000000000001', '810000000000000002', ''];
const PERIODS: BoardPeriod[] = ['day', 'week', 'month', 'all'];
const ref = (n: number): DiscordUserRef => ({ discordId: `82${String(n).padStart(16, '0')}`, username: `r${n}` });
const senders: bigint[] = [];

beforeAll(async () => {
  t = await createTestDatabase({ poolMax: 16 });
  ledger = new LedgerService(t.db, parseConfig({}));
  // Twelve senders: few enough that boards tie often and senders recur across days.
  const { rows } = await sql<{ id: bigint }>`
    insert into users (discord_id, username) select '82' || lpad(g::text, 16, '0'), 'r' || g from generate_series(1, 12) g returning id`.execute(t.db);
  senders.push(...rows.map((r) => r.id).sort((a, b) => (a < b ? -1 : 1)));
});
afterAll(() => t.drop());

/** Deterministic PRNG (mulberry32), so a failing case can be replayed from its seed. */
function prng(seed: number) {
  let a = seed >>> 0;
  return (n: number) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return Math.floor((((x ^ (x >>> 14)) >>> 0) / 4294967296) * n);
  };
}

const utcDay = (day: string, plus: number) => new Date(Date.parse(`${day}T00:00:00Z`) + plus * 86_400_000).toISOString().slice(0, 10);
const todayUtc = () => new Date().toISOString().slice(0, 10);

/** What ledger_tip() does to the per-day aggregate, for a tip on any day. */
async function addDaily(guild: string, currency: string, day: string, sender: bigint, total: bigint) {
  await sql`
    insert into tip_totals_daily (guild_id, currency, day, sender_id, total, tips) values (${guild}, ${currency}, ${day}::date, ${sender}, ${total.toString()}::numeric, 1)
    on conflict on constraint tip_totals_daily_pkey do update set total = tip_totals_daily.total + excluded.total, tips = tip_totals_daily.tips + 1`.execute(t.db);
}

/** The board straight from the per-day rows: the definition the rollup must reproduce. */
async function naive(currency: string, period: BoardPeriod, guild: string | null, limit: number, today: string): Promise<BoardRow[]> {
  const since = period === 'all' ? null : utcDay(today, -BOARD_DAYS[period]);
  const { rows } = await sql<BoardRow>`
    select u.discord_id, u.username, sum(d.total) as total, sum(d.tips) as tips
    from tip_totals_daily d join users u on u.id = d.sender_id
    where d.currency = ${currency} and (${since}::date is null or d.day >= ${since}::date) and (${guild}::text is null or d.guild_id = ${guild})
    group by u.discord_id, u.username order by total desc, u.discord_id limit ${limit}`.execute(t.db);
  return rows;
}

/** Every board (period × guild and bot-wide × limit) read through the rollup path equals the naive one. */
async function expectBoardsMatch(today: string, currencies = ['SOL', 'USDC']) {
  for (const currency of currencies) {
    for (const period of PERIODS) {
      for (const guild of [...GUILDS, null]) {
        for (const limit of [1, 3, 50]) {
          const got = await topTippers(t.db, currency, period, guild, limit, today);
          expect(got, `${currency} ${period} ${guild ?? 'bot-wide'} top ${limit} as of ${today}`).toEqual(await naive(currency, period, guild, limit, today));
        }
      }
    }
  }
}

/** The rollup's rows are exactly the per-day rows summed over each period's closed days, and nothing else. */
async function expectRollupExact(db = t.db, week = 7, month = 30) {
  const { rows } = await sql<{ diff: bigint }>`
    with s as (select folded_through as w from tip_totals_rollup_state),
    want as (
      select p.period, coalesce(d.guild_id, '*') as guild_id, d.currency, d.sender_id, sum(d.total) as total, sum(d.tips) as tips
      from s cross join (values ('all', 100000), ('week', ${week}::int), ('month', ${month}::int)) as p(period, keep)
      join tip_totals_daily d on d.day <= s.w and d.day > s.w - p.keep
      group by grouping sets ((p.period, d.guild_id, d.currency, d.sender_id), (p.period, d.currency, d.sender_id))
    ),
    have as (select period, guild_id, currency, sender_id, total, tips from tip_totals_rollup)
    select count(*) as diff from ((select * from want except all select * from have) union all (select * from have except all select * from want)) x`.execute(db);
  expect(rows[0]!.diff).toBe(0n);
}

const rollupSnapshot = async () => ({
  rows: await sql`select * from tip_totals_rollup order by period, guild_id, currency, sender_id`.execute(t.db).then((r) => r.rows),
  state: await sql`select folded_through::text from tip_totals_rollup_state`.execute(t.db).then((r) => r.rows),
});

describe('leaderboard rollup', () => {
  it('equals the naive per-day sum on random tips over 75 days, folded late, twice or a few days at a time', async () => {
    const rand = prng(18_190_000);
    // A history that starts long ago: the watermark goes back to where it would be on its first day.
    const start = utcDay(todayUtc(), -200);
    await sql`update tip_totals_rollup_state set folded_through = ${utcDay(start, -2)}::date`.execute(t.db);
    for (let k = 0; k < 75; k++) {
      const today = utcDay(start, k);
      const tips = rand(12);
      for (let i = 0; i < tips; i++) {
        // Mostly today; some land on yesterday (a transaction that began before midnight commits after it).
        const day = rand(5) === 0 ? utcDay(today, -1) : today;
        const amount = BigInt([1, 2, 3, 5][rand(4)]!) * 1000n;
        await addDaily(GUILDS[rand(GUILDS.length)]!, rand(6) === 0 ? 'USDC' : 'SOL', day, senders[rand(senders.length)]!, amount);
      }
      const folds = [0, 1, 1, 1, 2][rand(5)]!; // 0 = the job is late today
      for (let f = 0; f < folds; f++) await rollupTipTotals(t.db, 1 + rand(4), today);
      await expectRollupExact();
      if (k % 4 === 0 || k > 65) await expectBoardsMatch(today);
    }
    // Rerunning the fold for the same day folds nothing and changes nothing.
    const last = utcDay(start, 74);
    while ((await rollupTipTotals(t.db, 31, last)) > 0);
    const settled = await rollupSnapshot();
    expect(await rollupTipTotals(t.db, 31, last)).toBe(0);
    expect(await rollupSnapshot()).toEqual(settled);
    // Nothing that began before the replayed day's midnight is running, so yesterday is folded too.
    expect(settled.state).toEqual([{ folded_through: utcDay(last, -1) }]);
    expect(settled.rows.length).toBeGreaterThan(0);
    await expectBoardsMatch(last);
  });

  it('folds while real tips land and other folds run, and the boards still equal the naive sum', async () => {
    await sql`truncate tip_totals_rollup, tip_totals_daily`.execute(t.db);
    const rand = prng(7);
    const today = todayUtc();
    // 40 days of history the rollup has not seen yet: the folds below need two transactions to catch up.
    await sql`update tip_totals_rollup_state set folded_through = ${utcDay(today, -45)}::date`.execute(t.db);
    for (let i = 0; i < 300; i++) {
      await addDaily(GUILDS[rand(GUILDS.length)]!, 'SOL', utcDay(today, -1 - rand(44)), senders[rand(senders.length)]!, BigInt(1 + rand(5)) * 1000n);
    }
    const people = Array.from({ length: 12 }, (_, i) => ref(i + 1));
    for (const p of people) {
      await ledger.adminCredit({ idempotencyKey: `fund-${p.discordId}`, user: p, amount: '10', actor: { discordId: '100000000000000001', username: 'ops' } });
    }
    const runner = new JobRunner(createTestContext(t), [ledgerRollup]);
    const work: Array<() => Promise<unknown>> = [];
    for (let i = 0; i < 80; i++) {
      const sender = people[rand(people.length)]!;
      let receiver = people[rand(people.length)]!;
      while (receiver === sender) receiver = people[rand(people.length)]!;
      const guildId = GUILDS[rand(GUILDS.length)] || null;
      work.push(() => ledger.tip({ interactionId: `rollup-${i}`, sender, receivers: [receiver], amount: `0.00000${1 + rand(5)}`, guildId }));
      if (i % 10 === 0) work.push(() => ledger.rollupTipTotals());
      if (i % 25 === 0) work.push(() => runner.runNow('ledger-rollup'));
      if (i % 15 === 0) work.push(() => ledger.leaderboard('SOL', 'all', guildId));
    }
    const results = await Promise.allSettled(work.map((w) => w()));
    expect(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);

    expect(await sql`select folded_through::text from tip_totals_rollup_state`.execute(t.db).then((r) => r.rows)).toEqual([{ folded_through: utcDay(today, -1) }]);
    await expectRollupExact();
    await expectBoardsMatch(today, ['SOL']);
    // Today's tips are on the boards (open days) and in no rollup row.
    const tipped = await sql<{ n: bigint }>`select count(*) as n from journal where type = 'tip'`.execute(t.db);
    const boardTips = (await ledger.leaderboard('SOL', 'day', null, 100)).rows.reduce((n, r) => n + r.tips, 0);
    expect(BigInt(boardTips)).toBeGreaterThanOrEqual(tipped.rows[0]!.n);

    const settled = await rollupSnapshot();
    expect(await runner.runNow('ledger-rollup')).toMatchObject({ status: 'ok' });
    expect(await rollupSnapshot()).toEqual(settled);
  });
});

describe('folding yesterday early (migration 2026_11_28_210000)', () => {
  it('waits for every transaction that began before midnight, then folds yesterday and the boards still match', async () => {
    await sql`truncate tip_totals_rollup, tip_totals_daily`.execute(t.db);
    const rand = prng(18_210_000);
    // Replayed as of tomorrow: this test's own connections all began "yesterday" (today, real time).
    const today = todayUtc();
    const tomorrow = utcDay(today, 1);
    await sql`update tip_totals_rollup_state set folded_through = ${utcDay(today, -40)}::date`.execute(t.db);
    for (let i = 0; i < 200; i++) {
      await addDaily(GUILDS[rand(GUILDS.length)]!, 'SOL', utcDay(today, -rand(40)), senders[rand(senders.length)]!, BigInt(1 + rand(5)) * 1000n);
    }
    const through = () => sql<{ d: string }>`select folded_through::text as d from tip_totals_rollup_state`.execute(t.db).then((r) => r.rows[0]!.d);
    await t.db.connection().execute(async (conn) => {
      await sql`begin`.execute(conn);
      try {
        // A transaction that began before tomorrow's midnight could still write today's row: today stays open.
        expect(await rollupTipTotals(t.db, 100, tomorrow)).toBeGreaterThan(0);
        expect(await through()).toBe(utcDay(today, -1));
        await expectRollupExact();
        // Such a transaction's late tip lands on today, and the boards of tomorrow (rollup not current) count it.
        await addDaily(GUILDS[0]!, 'SOL', today, senders[0]!, 7000n);
        await expectBoardsMatch(tomorrow, ['SOL']);
      } finally {
        await sql`commit`.execute(conn);
      }
    });
    // Under REPEATABLE READ the snapshot predates the check, so the old rule holds even with nothing running.
    await t.db.transaction().setIsolationLevel('repeatable read').execute(async (trx) => {
      expect(await rollupTipTotals(trx, 100, tomorrow)).toBe(0);
    });
    // Once it has ended, today is folded: the boards of tomorrow read only tomorrow from the per-day rows.
    expect(await rollupTipTotals(t.db, 100, tomorrow)).toBe(1);
    expect(await through()).toBe(today);
    await expectRollupExact();
    await addDaily(GUILDS[1]!, 'SOL', tomorrow, senders[1]!, 9000n);
    await expectBoardsMatch(tomorrow, ['SOL']);
    expect(await rollupTipTotals(t.db, 100, tomorrow)).toBe(0);
  });
});

describe('migration 2026_11_28_190000_ledger_rollup', () => {
  it('is reversible: down keeps the per-day rows, up again folds their closed days', async () => {
    const MIGRATION = '2026_11_28_190000_ledger_rollup';
    const m = await createTestDatabase();
    try {
      const names = (await migrationStatus(m.db)).map((x) => x.name);
      const migrateTo = async (name: string) => {
        const result = await createMigrator(m.db).migrateTo(name);
        if (result.error) throw result.error instanceof Error ? result.error : new Error(String(result.error));
      };
      const later = names.slice(names.indexOf(MIGRATION) + 1);
      await migrateTo(names[names.indexOf(MIGRATION) - 1]!);
      await sql`insert into users (discord_id, username) values ('830000000000000001', 'm1'), ('830000000000000002', 'm2')`.execute(m.db);
      await sql`
        insert into tip_totals_daily (guild_id, currency, day, sender_id, total, tips)
        select g, 'SOL', (now() at time zone 'UTC')::date - d, u.id, 1000 * d, 1
        from users u, generate_series(0, 40) d, unnest(array['', '830000000000000009']) g`.execute(m.db);
      const daily = () => sql`select * from tip_totals_daily order by 1, 2, 3, 4`.execute(m.db).then((r) => r.rows);
      const before = await daily();
      await migrateTo(MIGRATION);
      const state = await sql<{ d: string }>`select folded_through::text as d from tip_totals_rollup_state`.execute(m.db);
      expect(state.rows).toEqual([{ d: utcDay(todayUtc(), -2) }]);
      const all = await sql<{ total: bigint }>`select total from tip_totals_rollup where period = 'all' and guild_id = '*'`.execute(m.db);
      // Two guild rows a day for each of 39 closed days (2…40 days ago), 1000 × age each.
      expect(all.rows).toEqual([{ total: 2n * 1000n * BigInt(((2 + 40) * 39) / 2) }, { total: 2n * 1000n * BigInt(((2 + 40) * 39) / 2) }]);
      await migrateTo(names[names.indexOf(MIGRATION) - 1]!);
      expect(await daily()).toEqual(before);
      const idx = await sql<{ indexname: string }>`select indexname from pg_indexes where tablename = 'tip_totals_daily' order by 1`.execute(m.db);
      expect(idx.rows.map((r) => r.indexname)).toEqual(['tip_totals_daily_currency_day_idx', 'tip_totals_daily_pkey']);
      await migrateTo(later.at(-1) ?? MIGRATION);
      // 2026_11_28_210000 folds yesterday at once (nothing that began before midnight runs) into 7- and 30-day windows.
      expect((await sql<{ d: string }>`select folded_through::text as d from tip_totals_rollup_state`.execute(m.db)).rows).toEqual([{ d: utcDay(todayUtc(), -1) }]);
      await expectRollupExact(m.db);
      // …and its down goes back to 6- and 29-day windows ending at the same watermark, which the old fold continues.
      await migrateTo('2026_11_28_200000_chain_credits');
      await expectRollupExact(m.db, 6, 29);
      expect(await daily()).toEqual(before);
      await migrateTo(later.at(-1) ?? MIGRATION);
      await expectRollupExact(m.db);
    } finally {
      await m.drop();
    }
  });
});
