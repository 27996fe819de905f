import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { DB } from '../../db/schema';
import type { UserRef } from '../users/users.accounts';
import type { AirdropsTable, JournalType, TipKind } from './ledger.tables';

type Db = Kysely<DB> | Transaction<DB>;

export interface TipRow {
  replayed: boolean;
  tip_ids: bigint[];
  sender_id: bigint;
  receiver_ids: bigint[];
  each_amount: bigint;
  sender_balance: bigint;
}

/** One round trip: the plpgsql ledger_tip() does users, blocked checks, idempotency (an API key too), debit, credits and journal. */
export async function tip(
  db: Db,
  args: {
    interactionId: string;
    kind: TipKind;
    currency: string;
    each: bigint;
    note: string | null;
    sender: UserRef;
    receivers: UserRef[];
    guildId: string | null;
    /** The partner API's Idempotency-Key, claimed in the same transaction. */
    apiKey?: { environmentId: bigint; key: string; bodyHash: string };
  },
): Promise<TipRow> {
  const { rows } = await sql<TipRow>`
    select * from ledger_tip(
      ${args.interactionId}, ${args.kind}, ${args.currency}, ${args.each.toString()}::numeric, ${args.note},
      ${args.sender.discordId}, ${args.sender.username},
      ${args.receivers.map((r) => r.discordId)}::text[], ${args.receivers.map((r) => r.username)}::text[],
      ${args.guildId}::text, ${args.apiKey?.environmentId ?? null}::bigint, ${args.apiKey?.key ?? null}::text, ${args.apiKey?.bodyHash ?? null}::text
    )`.execute(db);
  return rows[0]!;
}

/** What the user holds per currency: the balance row plus unfolded credits (view account_balances). */
export function balancesOf(db: Db, userId: bigint) {
  return db.selectFrom('account_balances').select(['currency', 'amount']).where('user_id', '=', userId).execute();
}

export async function balanceOf(db: Db, userId: bigint, currency: string): Promise<bigint> {
  const row = await db
    .selectFrom('account_balances')
    .select('amount')
    .where('user_id', '=', userId)
    .where('currency', '=', currency)
    .executeTakeFirst();
  return row?.amount ?? 0n;
}

/**
 * Adds to a balance, creating the row; locks just that one row. Returns what the user now holds (unfolded credits
 * included). Tips do not come here: they never wait for a receiver's row (see ledger_tip()).
 */
export async function credit(db: Db, userId: bigint, currency: string, amount: bigint): Promise<bigint> {
  const { rows } = await sql<{ amount: bigint }>`
    with up as (
      insert into balances (user_id, currency, amount) values (${userId}, ${currency}, ${amount.toString()}::numeric)
      on conflict (user_id, currency) do update set amount = balances.amount + excluded.amount
      returning amount
    )
    select up.amount + coalesce((select sum(c.amount) from balance_credits c where c.user_id = ${userId} and c.currency = ${currency}), 0) as amount
    from up`.execute(db);
  return rows[0]!.amount;
}

/**
 * Subtracts when the balance (unfolded credits included) covers it; undefined when it does not. Folds the user's
 * credits into the row under its lock either way (ledger_debit(), which no total changes).
 */
export async function debit(db: Db, userId: bigint, currency: string, amount: bigint): Promise<bigint | undefined> {
  const { rows } = await sql<{ amount: bigint | null }>`select ledger_debit(${userId}, ${currency}, ${amount.toString()}::numeric) as amount`.execute(db);
  return rows[0]?.amount ?? undefined;
}

/** Folds the unfolded credits of up to `owners` users into their balance rows; returns how many credits it folded. */
export async function foldCredits(db: Db, owners: number): Promise<number> {
  const { rows } = await sql<{ n: bigint }>`select ledger_fold(${owners}::integer) as n`.execute(db);
  return Number(rows[0]!.n);
}

export interface JournalInsert {
  type: JournalType;
  fromUserId: bigint | null;
  toUserId: bigint | null;
  amount: bigint;
  currency: string;
  idempotencyKey: string;
  ref: string | null;
  /** Guild revenue legs (subscription payments and refunds) name the guild whose revenue account they move. */
  guildId?: string | null;
}

/** Undefined when the idempotency key was already used (the caller treats the operation as done). */
export async function insertJournal(db: Db, e: JournalInsert): Promise<bigint | undefined> {
  const row = await db
    .insertInto('journal')
    .values({
      type: e.type,
      from_user_id: e.fromUserId,
      to_user_id: e.toUserId,
      amount: e.amount.toString(),
      currency: e.currency,
      idempotency_key: e.idempotencyKey,
      ref: e.ref,
      guild_id: e.guildId ?? null,
    })
    .onConflict((oc) => oc.column('idempotency_key').doNothing())
    .returning('id')
    .executeTakeFirst();
  return row?.id;
}

/** Where a /history page starts: just older than `before`, or just newer than `after` (a Prev click). */
export type HistoryCursor = { before: bigint } | { after: bigint };

export interface HistoryRow {
  id: bigint;
  type: JournalType;
  from_user_id: bigint | null;
  to_user_id: bigint | null;
  amount: bigint;
  currency: string;
  status: string;
  ref: string | null;
  created_at: Date;
  from_discord_id: string | null;
  to_discord_id: string | null;
}

/**
 * Up to `limit` of the user's journal entries, newest first, by keyset (no OFFSET): each side is a backward (or, for
 * `after`, forward) walk of journal_from_user_idx / journal_to_user_idx from the cursor, so any page costs what
 * page 1 costs.
 */
export async function historyPage(db: Db, userId: bigint, limit: number, cursor?: HistoryCursor): Promise<HistoryRow[]> {
  const after = cursor !== undefined && 'after' in cursor;
  const bound = cursor === undefined ? sql`` : 'after' in cursor ? sql`and id > ${cursor.after}` : sql`and id < ${cursor.before}`;
  const dir = after ? sql`asc` : sql`desc`;
  const cols = sql`id, type, from_user_id, to_user_id, amount, currency, status, ref, created_at`;
  const { rows } = await sql<HistoryRow>`
    select j.*, f.discord_id as from_discord_id, t.discord_id as to_discord_id
    from (
      (select ${cols} from journal where from_user_id = ${userId} ${bound} order by id ${dir} limit ${limit})
      union
      (select ${cols} from journal where to_user_id = ${userId} ${bound} order by id ${dir} limit ${limit})
      order by id ${dir} limit ${limit}
    ) j
    left join users f on f.id = j.from_user_id
    left join users t on t.id = j.to_user_id
    order by j.id desc`.execute(db);
  return rows;
}

/** How many journal entries the user has, counting at most `cap + 1` (index-only; a heavy user costs at most that). */
export async function historyCount(db: Db, userId: bigint, cap: number): Promise<number> {
  const { rows } = await sql<{ n: bigint }>`
    select count(*) as n from (
      (select id from journal where from_user_id = ${userId} limit ${cap + 1})
      union all
      (select id from journal where to_user_id = ${userId} limit ${cap + 1})
      limit ${cap + 1}
    ) x`.execute(db);
  return Number(rows[0]!.n);
}

/**
 * The id of the user's entry `position` places after the newest (0 = newest), for a jump straight to a page number
 * (/history page:N). Walks ids only, index-only and bounded by the history count cap; buttons never need it.
 */
export async function historyIdAt(db: Db, userId: bigint, position: number): Promise<bigint | undefined> {
  const { rows } = await sql<{ id: bigint }>`
    select id from (
      (select id from journal where from_user_id = ${userId} order by id desc limit ${position + 1})
      union all
      (select id from journal where to_user_id = ${userId} order by id desc limit ${position + 1})
    ) x order by id desc offset ${position} limit 1`.execute(db);
  return rows[0]?.id;
}

export type BoardPeriod = 'day' | 'week' | 'month' | 'all';

/** Days in each board window: it runs from the UTC day this many days before today through today. */
export const BOARD_DAYS: Record<Exclude<BoardPeriod, 'all'>, number> = { day: 1, week: 7, month: 30 };

export interface BoardRow {
  discord_id: string;
  username: string;
  total: bigint;
  tips: bigint;
}

/** `day` as YYYY-MM-DD (UTC), `n` days earlier. */
function utcDay(day: string, minusDays = 0): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) - minusDays * 86_400_000).toISOString().slice(0, 10);
}

/**
 * The top senders of the period as of the UTC day `today` (YYYY-MM-DD): `guildId` null = bot-wide (every guild and
 * DMs), otherwise only what was sent in that guild. Ties are broken by discord id. Read as the rollup (every tip leg
 * the ledger-rollup job has folded, see ledger_fold_tips()) plus the unfolded tail of the journal, in one snapshot so
 * the tail starts exactly where the fold stopped. A window whose rollup rows end on another day (the seconds after
 * midnight until the job has slid them) sums the per-day rows plus the tail instead.
 */
export async function topTippers(db: Db, currency: string, period: BoardPeriod, guildId: string | null, limit: number, today: string, margin = BOARD_MARGIN): Promise<BoardRow[]> {
  const read = async (q: Db) => {
    // As text: a Date would cut folded_until to milliseconds, and the tail must start at the exact microsecond.
    const state = await q
      .selectFrom('tip_totals_rollup_state')
      .select([sql<string>`folded_until::text`.as('until'), sql<string>`window_day::text`.as('window')])
      .executeTakeFirstOrThrow();
    return (await boardQuery(currency, period, guildId, limit, today, state, margin).execute(q)).rows;
  };
  // REPEATABLE READ: the state row, the rollup and the tail must come from one snapshot (a fold committing between
  // two READ COMMITTED statements would count its legs twice).
  return db.isTransaction ? read(db) : db.transaction().setIsolationLevel('repeatable read').execute(read);
}

/** The board's query for a given fold state (`until`: folded_until as text, `window`: window_day). */
export function boardQuery(currency: string, period: BoardPeriod, guildId: string | null, limit: number, today: string, state: { until: string; window: string }, margin = BOARD_MARGIN) {
  const since = period === 'all' ? null : utcDay(today, BOARD_DAYS[period]);
  const tail = recentTips(currency, guildId, state.until, since);
  return period === 'all' || state.window === today ? rolledUpBoard(currency, period, guildId, limit, tail, margin) : summedBoard(currency, since, guildId, limit, tail);
}

/**
 * What the rollup does not hold yet, per sender: the folded legs still in tip_totals_open (a few thousand rows at
 * most) and the legs not folded at all (created at or after `until`). `until` is a literal so the planner sees how
 * recent it is and reads journal_created_brin: the last few page ranges, not the journal.
 */
function recentTips(currency: string, guildId: string | null, until: string, since: string | null) {
  const openGuild = guildId === null ? sql`` : sql`and o.guild_id = ${guildId}`;
  const openWindow = since === null ? sql`` : sql`and o.day >= ${since}::date`;
  const inGuild = guildId === null ? sql`` : sql`and coalesce(j.guild_id, '') = ${guildId}`;
  const inWindow = since === null ? sql`` : sql`and j.created_at >= (${since}::date::timestamp at time zone 'UTC')`;
  return sql`
    select x.sender_id, sum(x.total) as total, sum(x.tips) as tips from (
      select o.sender_id, o.total, o.tips from tip_totals_open o where o.currency = ${currency} ${openGuild} ${openWindow}
      union all
      select j.from_user_id, j.amount, 1 from journal j
      where j.created_at >= ${until}::timestamptz and j.type in ('tip', 'rain') and j.currency = ${currency} ${inGuild} ${inWindow}
    ) x
    group by x.sender_id`;
}

/**
 * Rollup totals plus the recent tips (open rows and unfolded tail), without looking up every recent sender. Let T be
 * the board's K-th rollup total and T' its (K + margin)-th (0 when there are fewer rows). A sender on the final
 * board has rollup + recent ≥ T (the K best rollup senders already reach T). If its recent part is below T − T', its
 * rollup total is above T', so it is among the top K + margin rollup rows. Candidates are therefore those rows
 * (WITH TIES) ∪ the recent senders with at least T − T': exact, and a few lookups however many recent senders there
 * are. Ties are broken by discord id. Served by tip_totals_rollup_top_idx, tip_totals_rollup_pkey, tip_totals_open and
 * journal_created_brin.
 */
function rolledUpBoard(currency: string, period: BoardPeriod, guildId: string | null, limit: number, recent: ReturnType<typeof sql>, margin: number) {
  const g = guildId ?? '*';
  return sql<BoardRow>`
    with top as (
      select r.sender_id, r.total from tip_totals_rollup r
      where r.period = ${period} and r.guild_id = ${g} and r.currency = ${currency}
      order by r.total desc fetch first ${limit + margin} rows with ties
    ), gap as (
      select coalesce((select t.total from top t order by t.total desc offset ${limit - 1} limit 1), 0)
           - coalesce((select t.total from top t order by t.total desc offset ${limit + margin - 1} limit 1), 0) as v
    ), open as (${recent}), totals as (
      -- A lookup per candidate (LATERAL): a merge join would walk the board's whole rollup index.
      select k.sender_id, coalesce(r.total, 0) + coalesce(o.total, 0) as total, coalesce(r.tips, 0) + coalesce(o.tips, 0) as tips
      from (select sender_id from top union select q.sender_id from open q, gap where q.total >= gap.v) k
      left join lateral (
        select r.total, r.tips from tip_totals_rollup r
        where r.period = ${period} and r.guild_id = ${g} and r.currency = ${currency} and r.sender_id = k.sender_id
        limit 1 -- keeps the subquery from being pulled up into that merge join
      ) r on true
      left join open o on o.sender_id = k.sender_id
      -- Users are joined for the top rows only (ties kept, since they are broken by discord id).
      order by total desc fetch first ${limit} rows with ties
    )
    select u.discord_id, u.username, t.total, t.tips from totals t join users u on u.id = t.sender_id
    order by t.total desc, u.discord_id limit ${limit}`;
}

/**
 * Rollup rows read beyond a board's K to bound which recent senders need a lookup (see rolledUpBoard): wide enough that
 * the gap between the K-th and the (K + margin)-th total is more than most senders' recent tips.
 */
const BOARD_MARGIN = 100;

/**
 * The per-day rows from the UTC day `since` (YYYY-MM-DD; null = all days) plus the recent tips. Served by
 * tip_totals_daily_pkey (guild) or tip_totals_daily_day_idx (bot-wide).
 */
function summedBoard(currency: string, since: string | null, guildId: string | null, limit: number, tail: ReturnType<typeof sql>) {
  const inGuild = guildId === null ? sql`` : sql`and d.guild_id = ${guildId}`;
  const inWindow = since === null ? sql`` : sql`and d.day >= ${since}::date`;
  return sql<BoardRow>`
    with totals as (
      select x.sender_id, sum(x.total) as total, sum(x.tips) as tips from (
        select d.sender_id, d.total, d.tips from tip_totals_daily d where d.currency = ${currency} ${inGuild} ${inWindow}
        union all
        select * from (${tail}) o
      ) x
      group by x.sender_id
      order by total desc fetch first ${limit} rows with ties
    )
    select u.discord_id, u.username, t.total, t.tips from totals t join users u on u.id = t.sender_id
    order by t.total desc, u.discord_id limit ${limit}`;
}

export interface TipFold {
  folded: bigint;
  caught_up: boolean;
}

/**
 * Folds the tip legs created in the next `maxSpan` of time (at most up to the safe horizon) into tip_totals_open,
 * rolling it into tip_totals_daily and tip_totals_rollup when a day has begun or it is full (ledger_fold_tips()). `now` replays history in tests; the job passes nothing.
 */
export async function foldTipTotals(db: Db, maxSpan: string, opts: { now?: string; margin?: string; maxOpen?: number } = {}): Promise<TipFold> {
  const now = opts.now === undefined ? sql`` : sql`p_now => ${opts.now}::timestamptz, `;
  const margin = opts.margin === undefined ? sql`` : sql`, p_margin => ${opts.margin}::interval`;
  const maxOpen = opts.maxOpen === undefined ? sql`` : sql`, p_max_open => ${opts.maxOpen}::integer`;
  const { rows } = await sql<TipFold>`select * from ledger_fold_tips(${now}p_max_span => ${maxSpan}::interval${margin}${maxOpen})`.execute(db);
  return rows[0]!;
}

/**
 * Summarizes the complete BRIN page ranges at the journal's end that are not summarized yet, so the unfolded tail a
 * board scans stays the last range or two (autosummarize would wait for autovacuum's next round). The last, growing
 * range is left alone: a summarized range would cost every tip landing in it a summary update in the WAL.
 */
export async function summarizeJournalBrin(db: Db, ranges = 64): Promise<number> {
  try {
    return await db.transaction().execute(async (trx) => {
      // The summary takes a SHARE UPDATE EXCLUSIVE lock: behind a running (auto)vacuum of the journal it gives up
      // well before deadlock_timeout, where the wait would cancel that autovacuum. The next run tries again.
      await sql`set local lock_timeout = '200ms'`.execute(trx);
      const { rows } = await sql<{ n: bigint }>`
        select coalesce(sum(brin_summarize_range('journal_created_brin'::regclass, b)), 0) as n
        from (select pg_relation_size('journal') / current_setting('block_size')::bigint as blocks) r,
             generate_series(greatest(0, (r.blocks / ${JOURNAL_BRIN_RANGE}) - 1 - ${ranges}) * ${JOURNAL_BRIN_RANGE},
                             ((r.blocks / ${JOURNAL_BRIN_RANGE}) - 1) * ${JOURNAL_BRIN_RANGE}, ${JOURNAL_BRIN_RANGE}) b`.execute(trx);
      return Number(rows[0]!.n);
    });
  } catch (err) {
    if ((err as { code?: string }).code === '55P03') return 0; // lock_not_available
    throw err;
  }
}

/** pages_per_range of journal_created_brin (migration 2026_11_28_220000_ledger_tip_fold). */
const JOURNAL_BRIN_RANGE = 16;

/**
 * At most one write per member per minute: activity is a recency signal, not an audit log. Not an upsert: ON CONFLICT
 * DO UPDATE locks the row even when its WHERE skips the update, and that lock is a WAL record plus a commit to flush
 * on every command; an UPDATE that matches nothing, and an insert of nothing, write nothing.
 */
export async function touchActivity(db: Db, guildId: string, userId: bigint): Promise<void> {
  await sql`
    with refreshed as (
      update member_activity set last_active_at = now()
      where guild_id = ${guildId} and user_id = ${userId} and last_active_at < now() - interval '1 minute'
      returning 1
    )
    insert into member_activity (guild_id, user_id)
    select ${guildId}, ${userId} where not exists (select 1 from member_activity where guild_id = ${guildId} and user_id = ${userId})
    on conflict (guild_id, user_id) do nothing`.execute(db);
}

export function recentlyActive(db: Db, guildId: string, excludeUserId: bigint, since: Date, limit: number) {
  return db
    .selectFrom('member_activity as a')
    .innerJoin('users as u', 'u.id', 'a.user_id')
    .select(['u.id', 'u.discord_id', 'u.username'])
    .where('a.guild_id', '=', guildId)
    .where('a.user_id', '<>', excludeUserId)
    .where('a.last_active_at', '>=', since)
    .where('u.is_blocked', '=', false)
    .orderBy('a.last_active_at', 'desc')
    .orderBy('a.user_id')
    .limit(limit)
    .execute();
}

// ---------------------------------------------------------------- airdrops

export function insertAirdrop(
  db: Db,
  a: {
    interactionId: string;
    creatorId: bigint;
    currency: string;
    perClaim: bigint;
    claims: number;
    expiresAt: Date;
    guildId: string | null;
    channelId: string | null;
  },
) {
  const total = a.perClaim * BigInt(a.claims);
  return db
    .insertInto('airdrops')
    .values({
      interaction_id: a.interactionId,
      creator_id: a.creatorId,
      currency: a.currency,
      total_amount: total.toString(),
      per_claim_amount: a.perClaim.toString(),
      claims_allowed: a.claims,
      remaining_amount: total.toString(),
      expires_at: a.expiresAt,
      guild_id: a.guildId,
      channel_id: a.channelId,
    })
    .onConflict((oc) => oc.column('interaction_id').doNothing())
    .returningAll()
    .executeTakeFirst();
}

export function findAirdrop(db: Db, id: bigint) {
  return db.selectFrom('airdrops').selectAll().where('id', '=', id).executeTakeFirst();
}

export function findAirdropByInteraction(db: Db, interactionId: string) {
  return db.selectFrom('airdrops').selectAll().where('interaction_id', '=', interactionId).executeTakeFirst();
}

export async function setAirdropMessage(db: Db, id: bigint, channelId: string, messageId: string): Promise<void> {
  await db.updateTable('airdrops').set({ channel_id: channelId, message_id: messageId }).where('id', '=', id).execute();
}

export async function insertClaim(db: Db, airdropId: bigint, userId: bigint, amount: bigint): Promise<boolean> {
  const row = await db
    .insertInto('airdrop_claims')
    .values({ airdrop_id: airdropId, user_id: userId, amount: amount.toString() })
    .onConflict((oc) => oc.columns(['airdrop_id', 'user_id']).doNothing())
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

/** Takes one claim slot if the airdrop is open, unexpired and not exhausted; locks the airdrop row. */
export function takeClaimSlot(db: Db, airdropId: bigint) {
  return db
    .updateTable('airdrops')
    .set((eb) => ({
      claims_made: eb('claims_made', '+', 1),
      remaining_amount: sql`remaining_amount - per_claim_amount`,
      status: sql`case when claims_made + 1 = claims_allowed then 'completed' else status end`,
      closed_at: sql`case when claims_made + 1 = claims_allowed then now() else closed_at end`,
    }))
    .where('id', '=', airdropId)
    .where('status', '=', 'open')
    .where('expires_at', '>', sql<Date>`now()`)
    .where('claims_made', '<', sql<number>`claims_allowed`)
    .returningAll()
    .executeTakeFirst();
}

/**
 * Closes up to `limit` expired open airdrops and refunds what is left to their creators, in one statement; returns
 * the closed rows. SKIP LOCKED leaves an airdrop that is being claimed right now to the next run.
 */
export async function expireAirdrops(db: Db, limit: number): Promise<Selectable<AirdropsTable>[]> {
  const { rows } = await sql<Selectable<AirdropsTable>>`
    with picked as (
      select id, creator_id, currency, remaining_amount from airdrops
      where status = 'open' and expires_at <= now()
      order by id limit ${limit}
      for update skip locked
    ), closed as (
      update airdrops a set status = 'expired', remaining_amount = 0, closed_at = now()
      from picked p where a.id = p.id
      returning a.*
    ), credited as (
      insert into balances (user_id, currency, amount)
      select creator_id, currency, sum(remaining_amount) from picked where remaining_amount > 0
      group by creator_id, currency order by creator_id, currency
      on conflict (user_id, currency) do update set amount = balances.amount + excluded.amount
      returning 1
    ), journaled as (
      insert into journal (type, from_user_id, to_user_id, amount, currency, idempotency_key, ref)
      select 'airdrop_refund', null, creator_id, remaining_amount, currency, 'airdrop_refund:' || id, 'airdrop:' || id
      from picked where remaining_amount > 0
      returning 1
    )
    -- Data-modifying CTEs always run to completion, referenced or not.
    select * from closed order by id`.execute(db);
  return rows;
}

// ---------------------------------------------------------------- confirmations

export interface TipPrecheck {
  /** The sender's own confirmation threshold for the currency (tip_settings); null = the configured default. */
  confirmAbove: bigint | null;
  /** When the sender last applied the same tip within the window (see below); null if not, or not asked. */
  repeatAt: Date | null;
}

/**
 * Everything /tip reads before ledger_tip(), in one round trip (it runs on every /tip, on the ack's critical path):
 * - `activeIn`: records the sender as active in that guild first (what touchActivity does for other commands);
 * - the sender's confirmation threshold;
 * - `repeat`: when the sender last applied the same tip (kind tip; same receivers, per-receiver amount and currency)
 *   within `withinSeconds`, other than interaction `excludeInteractionId`.
 * The reads see the database as of the statement's start, so they do not see a user row this statement creates —
 * a new user has no threshold and no tips anyway. (Nor one a concurrent first command of the same new member is
 * creating: that member's activity is then recorded by their next command.)
 */
export async function tipPrecheck(
  db: Db,
  t: {
    sender: UserRef;
    activeIn: string | null;
    currency: string;
    repeat?: { receiverDiscordIds: string[]; each: bigint; withinSeconds: number; excludeInteractionId: string };
  },
): Promise<TipPrecheck> {
  const receivers = [...(t.repeat?.receiverDiscordIds ?? [])].sort();
  // Only the sender's newest journal legs are read (journal_from_user_idx backwards): a member with a long history
  // must not pay for the check. 200 legs cover any tip sent within the window unless the member sent more than 200
  // legs in it, in which case the question is skipped rather than the tip slowed. Only legs of the same amount go on
  // to the grouping and the users join (every leg of a tip carries the same per-receiver amount), so the usual
  // "no repeat" answer costs the index scan alone.
  const repeat = t.repeat
    ? sql<Date>`(
        select max(g.at) from (
          select max(t.created_at) as at
          from (
            select j.to_user_id, j.amount, j.created_at, j.idempotency_key
            from journal j
            where j.from_user_id = (select id from sender) and j.type = 'tip'
            order by j.id desc
            limit 200
          ) t
          join users r on r.id = t.to_user_id
          where t.amount = ${t.repeat.each.toString()}::numeric
            and t.created_at > now() - make_interval(secs => ${t.repeat.withinSeconds})
            and substring(t.idempotency_key from '^[a-z]+:(.*):[0-9]+$') <> ${t.repeat.excludeInteractionId}
          group by substring(t.idempotency_key from '^[a-z]+:(.*):[0-9]+$')
          having array_agg(r.discord_id order by r.discord_id) = ${receivers}::text[]
        ) g
      )`
    : sql<Date>`null::timestamptz`;
  // Activity: at most one write per member per minute, and not an upsert (see touchActivity).
  const { rows } = await sql<{ confirm_above: bigint | null; repeat_at: Date | null }>`
    with sender as (
      select id from users where discord_id = ${t.sender.discordId}
    ), created as (
      insert into users (discord_id, username)
      select ${t.sender.discordId}, ${t.sender.username} where ${t.activeIn}::text is not null
      on conflict (discord_id) do nothing
      returning id
    ), actor as (
      select id from created union all select id from sender
    ), refreshed as (
      update member_activity set last_active_at = now()
      where guild_id = ${t.activeIn} and user_id in (select id from actor) and last_active_at < now() - interval '1 minute'
      returning 1
    ), activated as (
      insert into member_activity (guild_id, user_id)
      select ${t.activeIn}, a.id from actor a
      where ${t.activeIn}::text is not null
        and not exists (select 1 from member_activity m where m.guild_id = ${t.activeIn} and m.user_id = a.id)
      on conflict (guild_id, user_id) do nothing
      returning 1
    )
    -- Data-modifying CTEs always run to completion, referenced or not.
    select
      (select s.confirm_above from tip_settings s where s.user_id = (select id from sender) and s.currency = ${t.currency}) as confirm_above,
      ${repeat} as repeat_at`.execute(db);
  const row = rows[0]!;
  return { confirmAbove: row.confirm_above, repeatAt: row.repeat_at };
}

export async function upsertConfirmation(db: Db, c: { interactionId: string; senderDiscordId: string; request: unknown; expiresAt: Date }) {
  // DO UPDATE (a no-op write) rather than DO NOTHING so a retried interaction gets the existing row back.
  return db
    .insertInto('tip_confirmations')
    .values({ interaction_id: c.interactionId, sender_discord_id: c.senderDiscordId, request: JSON.stringify(c.request), expires_at: c.expiresAt })
    .onConflict((oc) => oc.column('interaction_id').doUpdateSet({ interaction_id: sql`excluded.interaction_id` }))
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Deletes up to `limit` confirmations that expired more than `retention` (an SQL interval) ago, oldest first. */
export async function deleteExpiredConfirmations(db: Db, retention: string, limit: number): Promise<number> {
  const result = await db
    .deleteFrom('tip_confirmations')
    .where(
      'id',
      'in',
      db
        .selectFrom('tip_confirmations')
        .select('id')
        .where('expires_at', '<', sql<Date>`now() - ${retention}::interval`)
        .orderBy('expires_at')
        .limit(limit),
    )
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

export function findConfirmation(db: Db, id: bigint) {
  return db.selectFrom('tip_confirmations').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Marks it confirmed (again, for a double click) while pending and unexpired; locks the row. */
export function markConfirmed(db: Db, id: bigint, senderDiscordId: string) {
  return db
    .updateTable('tip_confirmations')
    .set({ status: 'confirmed', decided_at: sql`coalesce(decided_at, now())` })
    .where('id', '=', id)
    .where('sender_discord_id', '=', senderDiscordId)
    .where((eb) => eb.or([eb('status', '=', 'confirmed'), eb.and([eb('status', '=', 'pending'), eb('expires_at', '>', sql<Date>`now()`)])]))
    .returningAll()
    .executeTakeFirst();
}

export function markCanceled(db: Db, id: bigint, senderDiscordId: string) {
  return db
    .updateTable('tip_confirmations')
    .set({ status: 'canceled', decided_at: sql`now()` })
    .where('id', '=', id)
    .where('sender_discord_id', '=', senderDiscordId)
    .where('status', 'in', ['pending', 'canceled'])
    .returningAll()
    .executeTakeFirst();
}

/**
 * Per currency, what open airdrops still hold in escrow. Owed to members (claimers or the creator's refund) just like
 * balances, so solvency and conservation checks must count it: Σ balances + open escrow = Σ inflows − Σ outflows.
 */
export async function openEscrow(db: Db): Promise<Map<string, bigint>> {
  const rows = await db
    .selectFrom('airdrops')
    .select((eb) => ['currency', eb.fn.sum<bigint>('remaining_amount').as('amount')])
    .where('status', '=', 'open')
    .groupBy('currency')
    .execute();
  return new Map(rows.map((r) => [r.currency, BigInt(r.amount)]));
}

// ---------------------------------------------------------------- guild revenue

/** Adds to a guild's revenue account (creating it); returns what it now holds. */
export async function creditRevenue(db: Db, guildId: string, currency: string, amount: bigint): Promise<bigint> {
  const row = await db
    .insertInto('guild_revenue')
    .values({ guild_id: guildId, currency, amount: amount.toString() })
    .onConflict((oc) => oc.columns(['guild_id', 'currency']).doUpdateSet({ amount: sql`guild_revenue.amount + excluded.amount`, updated_at: sql`now()` }))
    .returning('amount')
    .executeTakeFirstOrThrow();
  return row.amount;
}

/** Takes from a guild's revenue account when it holds enough; undefined when it does not. */
export async function debitRevenue(db: Db, guildId: string, currency: string, amount: bigint): Promise<bigint | undefined> {
  const row = await db
    .updateTable('guild_revenue')
    .set({ amount: sql`amount - ${amount.toString()}::numeric`, updated_at: sql`now()` })
    .where('guild_id', '=', guildId)
    .where('currency', '=', currency)
    .where(sql<boolean>`amount >= ${amount.toString()}::numeric`)
    .returning('amount')
    .executeTakeFirst();
  return row?.amount;
}

/** Per currency, what a guild's (or, without one, every guild's) revenue account holds. */
export async function revenue(db: Db, guildId?: string): Promise<Map<string, bigint>> {
  let q = db.selectFrom('guild_revenue').select((eb) => ['currency', eb.fn.sum<bigint>('amount').as('amount')]).groupBy('currency');
  if (guildId !== undefined) q = q.where('guild_id', '=', guildId);
  const rows = await q.execute();
  return new Map(rows.map((r) => [r.currency, BigInt(r.amount)]));
}

// ---------------------------------------------------------------- per-user settings

export async function confirmAboveOf(db: Db, discordId: string, currency: string): Promise<bigint | undefined> {
  const row = await db
    .selectFrom('tip_settings as s')
    .innerJoin('users as u', 'u.id', 's.user_id')
    .select('s.confirm_above')
    .where('u.discord_id', '=', discordId)
    .where('s.currency', '=', currency)
    .executeTakeFirst();
  return row?.confirm_above;
}

export async function setConfirmAbove(db: Db, userId: bigint, currency: string, amount: bigint): Promise<void> {
  await db
    .insertInto('tip_settings')
    .values({ user_id: userId, currency, confirm_above: amount.toString() })
    .onConflict((oc) => oc.columns(['user_id', 'currency']).doUpdateSet({ confirm_above: amount.toString() }))
    .execute();
}
