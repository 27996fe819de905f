import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../config';
import { createMigrator, migrationStatus } from '../../db/migrator';
import { JobRunner } from '../../jobs/job-runner';
import { createTestContext } from '../../testing/test-context';
import { createTestDatabase, type TestDatabase } from '../../testing/test-db';
import ledgerRollup from './ledger-rollup.job';
import { BOARD_DAYS, foldTipTotals, topTippers, type BoardPeriod, type BoardRow } from './ledger.repository';
import { LedgerService, type DiscordUserRef } from './ledger.service';

// The leaderboard aggregates (migrations 2026_11_28_190000 and 220000) against the naive sum of the journal's tip
// legs, on random tips spread over many days, folded at random instants (sometimes late, sometimes twice, sometimes in
// small batches), with folds running while real tips land, and with a transaction holding the horizon back.

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
let legNo = 0;

/** A tip leg as ledger_tip() writes it to the journal, created at `at` (an ISO instant; the journal is the truth). */
async function addLeg(guild: string, currency: string, at: string, sender: bigint, receiver: bigint, amount: bigint, db = t.db) {
  legNo += 1;
  await sql`
    insert into journal (type, from_user_id, to_user_id, amount, currency, idempotency_key, created_at, guild_id)
    values ('tip', ${sender}, ${receiver}, ${amount.toString()}::numeric, ${currency}, ${`tip:leg-${legNo}:0`}, ${at}::timestamptz, ${guild || null})`.execute(db);
}

/** The board straight from the journal's tip legs: the definition the rollup and its tail must reproduce. */
async function naive(currency: string, period: BoardPeriod, guild: string | null, limit: number, today: string): Promise<BoardRow[]> {
  const since = period === 'all' ? null : utcDay(today, -BOARD_DAYS[period]);
  const { rows } = await sql<BoardRow>`
    select u.discord_id, u.username, sum(j.amount) as total, count(*) as tips
    from journal j join users u on u.id = j.from_user_id
    where j.type in ('tip', 'rain') and j.currency = ${currency}
      and (${since}::date is null or j.created_at >= (${since}::date::timestamp at time zone 'UTC'))
      and (${guild}::text is null or coalesce(j.guild_id, '') = ${guild})
    group by u.discord_id, u.username order by total desc, u.discord_id limit ${limit}`.execute(t.db);
  return rows;
}

/** Every board (period × guild and bot-wide × limit) read through the rollup path equals the naive one. */
async function expectBoardsMatch(today: string, currencies = ['SOL', 'USDC']) {
  for (const currency of currencies) {
    for (const period of PERIODS) {
      for (const guild of [...GUILDS, null]) {
        for (const limit of [1, 3, 50]) {
          // Margins small enough that the pruning of recent senders matters with twelve senders (100 = the default).
          const got = await topTippers(t.db, currency, period, guild, limit, today, [0, 2, 5, 100][(limit + period.length) % 4]);
          expect(got, `${currency} ${period} ${guild ?? 'bot-wide'} top ${limit} as of ${today}`).toEqual(await naive(currency, period, guild, limit, today));
        }
      }
    }
  }
}

/**
 * The aggregates hold exactly the tip legs created before folded_until: those in tip_totals_open (each open row a
 * part of some legs), the rest per day in tip_totals_daily and per period (all; the day, week and month windows ending
 * on window_day) in tip_totals_rollup, and nothing else.
 */
async function expectFoldExact(db = t.db) {
  const { rows } = await sql<{ rollup: bigint; daily: bigint }>`
    with s as (select folded_until as u, window_day as w from tip_totals_rollup_state),
    rolled as (
      select guild_id, currency, day, sender_id, sum(total) as total, sum(tips) as tips from (
        select coalesce(j.guild_id, '') as guild_id, j.currency, (j.created_at at time zone 'UTC')::date as day, j.from_user_id as sender_id,
               j.amount as total, 1::bigint as tips
        from journal j, s where j.type in ('tip', 'rain') and j.created_at < s.u
        union all
        select guild_id, currency, day, sender_id, -total, -tips from tip_totals_open
      ) x group by 1, 2, 3, 4 having sum(tips) <> 0 or sum(total) <> 0
    ),
    want as (
      select p.period, coalesce(l.guild_id, '*') as guild_id, l.currency, l.sender_id, sum(l.total) as total, sum(l.tips) as tips
      from s cross join (values ('all', 100000), ('day', 1), ('week', 7), ('month', 30)) as p(period, keep)
      join rolled l on l.day >= s.w - p.keep and l.day <= s.w
      group by grouping sets ((p.period, l.guild_id, l.currency, l.sender_id), (p.period, l.currency, l.sender_id))
    ),
    have as (select period, guild_id, currency, sender_id, total, tips from tip_totals_rollup),
    have_daily as (select guild_id, currency, day, sender_id, total, tips from tip_totals_daily)
    select
      (select count(*) from ((select * from want except all select * from have) union all (select * from have except all select * from want)) x) as rollup,
      (select count(*) from ((select * from rolled except all select * from have_daily) union all (select * from have_daily except all select * from rolled)) x) as daily`.execute(db);
  expect(rows[0]).toEqual({ rollup: 0n, daily: 0n });
}

const aggregates = async () => ({
  rollup: await sql`select * from tip_totals_rollup order by period, guild_id, currency, sender_id`.execute(t.db).then((r) => r.rows),
  daily: await sql`select * from tip_totals_daily order by 1, 2, 3, 4`.execute(t.db).then((r) => r.rows),
  open: await sql`select * from tip_totals_open order by 1, 2, 3, 4`.execute(t.db).then((r) => r.rows),
});
const foldState = () => sql<{ until: Date; window: string }>`select folded_until as until, window_day::text as window from tip_totals_rollup_state`.execute(t.db).then((r) => r.rows[0]!);

/** Starts a replayed history at `at`: nothing folded, nothing to fold. */
async function resetFold(at: string) {
  await sql`delete from journal where type in ('tip', 'rain')`.execute(t.db);
  await sql`truncate tip_totals_rollup, tip_totals_daily, tip_totals_open`.execute(t.db);
  await sql`update tip_totals_rollup_state set folded_until = ${at}::timestamptz, window_day = (${at}::timestamptz at time zone 'UTC')::date`.execute(t.db);
}

describe('leaderboard fold from the journal (migration 2026_11_28_220000)', () => {
  // A long replay (75 days × up to 96 boards): minutes on a loaded machine.
  it('equals the naive journal sum on random tips over 75 days, folded late, twice, in small batches and rolls', { timeout: 300_000 }, async () => {
    const rand = prng(18_190_000);
    const start = utcDay(todayUtc(), -200);
    await resetFold(`${start}T00:00:00Z`);
    for (let k = 0; k < 75; k++) {
      const today = utcDay(start, k);
      const base = Date.parse(`${today}T00:00:00Z`);
      // Tips and folds at random instants of the day, in time order (a replayed fold's horizon is its p_now).
      const events = Array.from({ length: rand(12) }, () => ({ at: rand(86_400_000), fold: false }));
      const folds = [0, 1, 1, 1, 2][rand(5)]!; // 0 = the job is late today
      for (let f = 0; f < folds; f++) events.push({ at: rand(86_400_000), fold: true });
      events.sort((x, y) => x.at - y.at);
      let lastFold = 0;
      for (const e of events) {
        const at = new Date(base + Math.max(e.at, lastFold)).toISOString();
        if (e.fold) {
          // Small batches (a few hours per transaction) when catching up after a late day.
          for (;;) {
            // A small open table now and then, so rolls happen within a day too.
            const r = await foldTipTotals(t.db, `${1 + rand(12)} hours`, { now: at, margin: '0', maxOpen: [0, 3, 10, 2000][rand(4)]! });
            if (r.caught_up) break;
          }
          lastFold = e.at;
        } else {
          const amount = BigInt([1, 2, 3, 5][rand(4)]!) * 1000n;
          await addLeg(GUILDS[rand(GUILDS.length)]!, rand(6) === 0 ? 'USDC' : 'SOL', at, senders[rand(senders.length)]!, senders[0]!, amount);
        }
      }
      await expectFoldExact();
      if (k % 4 === 0 || k > 65) await expectBoardsMatch(today);
    }
    // Rerunning the fold at the same instant folds nothing and changes nothing.
    const last = `${utcDay(start, 74)}T23:59:59.999Z`;
    while (!(await foldTipTotals(t.db, '1 day', { now: last, margin: '0' })).caught_up);
    const settled = await aggregates();
    expect(await foldTipTotals(t.db, '1 day', { now: last, margin: '0' })).toEqual({ folded: 0n, caught_up: true });
    expect(await aggregates()).toEqual(settled);
    expect((await foldState()).until.toISOString()).toBe(last);
    expect(settled.rollup.length).toBeGreaterThan(0);
    await expectFoldExact();
    await expectBoardsMatch(utcDay(start, 74));
    // The next day's first fold slides the windows before anything of that day is in them.
    await foldTipTotals(t.db, '1 day', { now: `${utcDay(start, 75)}T00:00:01Z`, margin: '0' });
    expect((await foldState()).window).toBe(utcDay(start, 75));
    await expectFoldExact();
    await expectBoardsMatch(utcDay(start, 75));
  });

  it('folds while real tips land and other folds run, and the boards always equal the naive sum', async () => {
    await resetFold(new Date(Date.now() - 60_000).toISOString());
    const rand = prng(7);
    const today = todayUtc();
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
      if (i % 10 === 0) work.push(() => foldTipTotals(t.db, '1 hour', { margin: '0' }));
      if (i % 25 === 0) work.push(() => runner.runNow('ledger-rollup'));
      if (i % 15 === 0) work.push(() => ledger.leaderboard('SOL', 'all', guildId));
    }
    const results = await Promise.allSettled(work.map((w) => w()));
    expect(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
    // Part folded, part in the tail: the boards add the two.
    await expectFoldExact();
    await expectBoardsMatch(today, ['SOL']);

    // Nothing runs now, so a fold with no margin catches up with every tip.
    expect((await foldTipTotals(t.db, '1 hour', { margin: '0' })).caught_up).toBe(true);
    const { rows } = await sql<{ n: bigint }>`
      select count(*) as n from journal j, tip_totals_rollup_state s where j.type = 'tip' and j.created_at >= s.folded_until`.execute(t.db);
    expect(rows[0]!.n).toBe(0n);
    await expectFoldExact();
    await expectBoardsMatch(today, ['SOL']);
    const tipped = await sql<{ n: bigint }>`select count(*) as n from journal where type = 'tip'`.execute(t.db);
    const boardTips = (await ledger.leaderboard('SOL', 'day', null, 100)).rows.reduce((n, r) => n + r.tips, 0);
    expect(BigInt(boardTips)).toBe(tipped.rows[0]!.n);

    const settled = await aggregates();
    expect(await runner.runNow('ledger-rollup')).toMatchObject({ status: 'ok' });
    expect(await aggregates()).toEqual(settled);
  });

  it('never folds past a transaction still running, and its tip reaches the boards through the tail', async () => {
    await resetFold(new Date(Date.now() - 60_000).toISOString());
    const [a, b] = [ref(1), ref(2)];
    await ledger.adminCredit({ idempotencyKey: `fund-open-${a.discordId}`, user: a, amount: '1', actor: { discordId: '100000000000000001', username: 'ops' } });
    await ledger.tip({ interactionId: 'open-before', sender: a, receivers: [b], amount: '0.001', guildId: GUILDS[0]! });
    const today = todayUtc();
    await t.db.connection().execute(async (conn) => {
      await sql`begin`.execute(conn);
      try {
        const started = (await sql<{ now: Date }>`select now() as now`.execute(conn)).rows[0]!.now;
        await new Promise((r) => setTimeout(r, 50));
        // Its leg is created at the transaction's start, before the fold below runs.
        await sql`select * from ledger_tip('open-1', 'tip', 'SOL', 5000::numeric, null, ${a.discordId}, 'a', ${[b.discordId]}::text[], ${['b']}::text[], ${GUILDS[0]!})`.execute(conn);
        await foldTipTotals(t.db, '1 hour', { margin: '0' });
        expect((await foldState()).until.getTime()).toBeLessThanOrEqual(started.getTime());
        await expectFoldExact();
        await expectBoardsMatch(today, ['SOL']);
        // Under REPEATABLE READ the fold's snapshot predates its check, so it does not move the horizon at all.
        const before = await foldState();
        await t.db.transaction().setIsolationLevel('repeatable read').execute(async (trx) => {
          expect(await foldTipTotals(trx, '1 hour', { margin: '0' })).toEqual({ folded: 0n, caught_up: true });
        });
        expect(await foldState()).toEqual(before);
      } finally {
        await sql`commit`.execute(conn);
      }
    });
    // Committed: the tail has it at once, and the next fold takes it.
    await expectBoardsMatch(today, ['SOL']);
    await foldTipTotals(t.db, '1 hour', { margin: '0' });
    await expectFoldExact();
    const board = await ledger.leaderboard('SOL', 'all', null);
    expect(board.rows.map((r) => [r.discordId, r.tips])).toEqual([[a.discordId, 2]]);
    await expectBoardsMatch(today, ['SOL']);
  });

  it('ledger_tip() writes no aggregate: the tip path leaves tip_totals_daily to the fold', async () => {
    await resetFold(new Date(Date.now() - 60_000).toISOString());
    const [a, b] = [ref(3), ref(4)];
    await ledger.adminCredit({ idempotencyKey: `fund-lean-${a.discordId}`, user: a, amount: '1', actor: { discordId: '100000000000000001', username: 'ops' } });
    await ledger.tip({ interactionId: 'lean-1', sender: a, receivers: [b], amount: '0.002', guildId: null });
    expect(await aggregates()).toMatchObject({ daily: [], open: [] });
    const board = await ledger.leaderboard('SOL', 'all', null);
    expect(board.rows.map((r) => [r.discordId, r.total, r.tips])).toEqual([[a.discordId, 2_000_000n, 1]]);
  });
});

/** Before migration 2026_11_28_220000: the rollup is exactly the per-day rows summed over each period's closed days. */
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

/** The migration names of a test database, and a migrateTo(name) that throws the migrator's error. */
async function migrations(m: TestDatabase) {
  const names = (await migrationStatus(m.db)).map((x) => x.name);
  const migrateTo = async (name: string) => {
    const result = await createMigrator(m.db).migrateTo(name);
    if (result.error) throw result.error instanceof Error ? result.error : new Error(String(result.error));
  };
  return { names, migrateTo };
}

describe('migration 2026_11_28_190000_ledger_rollup', () => {
  it('is reversible: down keeps the per-day rows, up again folds their closed days', async () => {
    const MIGRATION = '2026_11_28_190000_ledger_rollup';
    const m = await createTestDatabase();
    try {
      const { names, migrateTo } = await migrations(m);
      // The checks below are of the per-day world; 2026_11_28_220000 (tested below) replaces it.
      const EARLY_FOLD = '2026_11_28_210000_ledger_rollup_early_fold';
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
      await migrateTo(EARLY_FOLD);
      // 2026_11_28_210000 folds yesterday at once (nothing that began before midnight runs) into 7- and 30-day windows.
      expect((await sql<{ d: string }>`select folded_through::text as d from tip_totals_rollup_state`.execute(m.db)).rows).toEqual([{ d: utcDay(todayUtc(), -1) }]);
      await expectRollupExact(m.db);
      // …and its down goes back to 6- and 29-day windows ending at the same watermark, which the old fold continues.
      await migrateTo('2026_11_28_200000_chain_credits');
      await expectRollupExact(m.db, 6, 29);
      expect(await daily()).toEqual(before);
      await migrateTo(EARLY_FOLD);
      await expectRollupExact(m.db);
    } finally {
      await m.drop();
    }
  });
});

describe('migration 2026_11_28_220000_ledger_tip_fold', () => {
  it('is reversible on data: up folds the per-day rows and the tail of today, down gives them back to the per-day world', async () => {
    const MIGRATION = '2026_11_28_220000_ledger_tip_fold';
    const m = await createTestDatabase();
    try {
      const { names, migrateTo } = await migrations(m);
      const before = names[names.indexOf(MIGRATION) - 1]!;
      await migrateTo(before);
      const { rows: ids } = await sql<{ id: bigint }>`
        insert into users (discord_id, username) values ('840000000000000001', 'p1'), ('840000000000000002', 'p2'), ('840000000000000003', 'p3')
        returning id`.execute(m.db);
      const [u1, u2, u3] = ids.map((r) => r.id) as [bigint, bigint, bigint];
      // 40 days of history as the old ledger_tip() left it: a journal leg and its per-day row, then the old fold.
      const today = todayUtc();
      for (let d = 40; d >= 1; d--) {
        for (const [sender, guild] of [[u1, ''], [u2, '840000000000000009'], [u1, '840000000000000009']] as const) {
          const at = `${utcDay(today, -d)}T12:00:00Z`;
          await addLeg(guild, 'SOL', at, sender, u3, BigInt(1000 * d), m.db);
          await sql`
            insert into tip_totals_daily (guild_id, currency, day, sender_id, total, tips) values (${guild}, 'SOL', ${at}::date, ${sender}, ${1000 * d}::numeric, 1)
            on conflict on constraint tip_totals_daily_pkey do update set total = tip_totals_daily.total + excluded.total, tips = tip_totals_daily.tips + 1`.execute(m.db);
        }
      }
      await sql`update tip_totals_rollup_state set folded_through = ${utcDay(today, -45)}::date`.execute(m.db);
      await sql`select ledger_rollup(p_max_days => 1000)`.execute(m.db);
      // Today's tips through the old ledger_tip(), which writes its per-day row itself.
      await sql`insert into balances (user_id, currency, amount) values (${u1}, 'SOL', 1000000)`.execute(m.db);
      const tipNow = (n: number) =>
        sql`select * from ledger_tip(${`mig-${n}`}, 'tip', 'SOL', 7000::numeric, null, '840000000000000001', 'p1', ${['840000000000000003']}::text[], ${['p3']}::text[], '840000000000000009')`.execute(m.db);
      await tipNow(1);
      const daily = () => sql`select * from tip_totals_daily order by 1, 2, 3, 4`.execute(m.db).then((r) => r.rows);
      const dailyBefore = await daily();

      await migrateTo(MIGRATION);
      await expectFoldExact(m.db);
      // Every leg so far is in the aggregates; a new tip is only in the journal until the fold takes it.
      await tipNow(2);
      expect(await daily()).toEqual(dailyBefore);
      const tail = await sql<{ n: bigint }>`select count(*) as n from journal j, tip_totals_rollup_state s where j.type = 'tip' and j.created_at >= s.folded_until`.execute(m.db);
      expect(tail.rows).toEqual([{ n: 1n }]);
      await sql`select * from ledger_fold_tips(p_margin => '0')`.execute(m.db);
      await expectFoldExact(m.db);

      // Down folds the tail back into the per-day rows (now one more tip) and restores the per-day world.
      await tipNow(3);
      await migrateTo(before);
      const want = await sql`
        select coalesce(guild_id, '') as guild_id, currency, (created_at at time zone 'UTC')::date as day, from_user_id as sender_id, sum(amount) as total, count(*) as tips
        from journal where type = 'tip' group by 1, 2, 3, 4 order by 1, 2, 3, 4`.execute(m.db);
      expect(await daily()).toEqual(want.rows);
      expect((await sql<{ d: string }>`select folded_through::text as d from tip_totals_rollup_state`.execute(m.db)).rows).toEqual([{ d: utcDay(today, -2) }]);
      await expectRollupExact(m.db);
      // The old ledger_tip() writes its per-day row again.
      await tipNow(4);
      expect((await daily()).length).toBe(want.rows.length);
      expect(await daily()).not.toEqual(want.rows);

      await migrateTo(names.at(-1)!);
      await expectFoldExact(m.db);
    } finally {
      await m.drop();
    }
  });
});
