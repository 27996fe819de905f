import { sql, type Kysely, type Transaction } from 'kysely';
import type { DB } from '../../db/schema';
import type { DueRoleChange } from './billing.repository';
import type { Cycle } from './billing.tables';

// The membership jobs' SQL (billing-jobs.ts, billing.role-sync.ts). Set-based: each statement handles one batch, and
// every row lock it takes is released when the statement's own transaction commits.

type Db = Kysely<DB> | Transaction<DB>;

// ---------------------------------------------------------------- role outbox

/**
 * Claims due outbox rows with SKIP LOCKED and leases them (next_attempt_at moves `leaseSeconds` ahead) in one
 * statement, so the Discord calls happen after it committed, holding no lock, and a second drainer (another job or
 * replica) skips them; a drainer that dies mid-batch leaves them due again when the lease runs out. `userId` limits
 * the claim to one member's rows (the immediate drain after a click).
 */
export async function claimRoleChanges(db: Db, limit: number, leaseSeconds: number, userId?: bigint): Promise<DueRoleChange[]> {
  const { rows } = await sql<DueRoleChange>`
    WITH due AS (
      SELECT id FROM billing_role_changes
      WHERE done_at IS NULL AND next_attempt_at <= now()${userId === undefined ? sql`` : sql` AND user_id = ${userId}`}
      ORDER BY next_attempt_at, id
      LIMIT ${limit}
      FOR UPDATE SKIP LOCKED
    )
    UPDATE billing_role_changes c SET next_attempt_at = now() + make_interval(secs => ${leaseSeconds})
    FROM due, users u
    WHERE c.id = due.id AND u.id = c.user_id
    RETURNING c.*, u.discord_id`.execute(db);
  return rows.sort((a, b) => (a.id < b.id ? -1 : 1));
}

/** (guild, role, user) triples among `userIds` that a live (ACTIVE) subscription grants today. */
export async function grantedRoles(db: Db, userIds: readonly bigint[]): Promise<Set<string>> {
  if (userIds.length === 0) return new Set();
  const rows = await db
    .selectFrom('billing_subscriptions as s')
    .innerJoin('billing_plans as p', 'p.id', 's.plan_id')
    .select(['s.guild_id', 'p.role_id', 's.user_id'])
    .where('s.status', '=', 'ACTIVE')
    .where('s.user_id', 'in', [...new Set(userIds)])
    .execute();
  return new Set(rows.map((r) => grantKey(r.guild_id, r.role_id, r.user_id)));
}

export const grantKey = (guildId: string, roleId: string, userId: bigint) => `${guildId}:${roleId}:${userId}`;

export async function finishRoleChanges(db: Db, ids: readonly bigint[]): Promise<void> {
  if (ids.length === 0) return;
  await db.updateTable('billing_role_changes').set({ done_at: sql`now()`, last_error: null }).where('id', 'in', ids).execute();
}

export async function failRoleChange(db: Db, id: bigint, error: string): Promise<void> {
  await db
    .updateTable('billing_role_changes')
    .set({ done_at: sql`now()`, failed_at: sql`now()`, attempts: sql`attempts + 1`, last_error: error.slice(0, 500) })
    .where('id', '=', id)
    .execute();
}

export async function retryRoleChangeLater(db: Db, id: bigint, error: string, delaySeconds: number): Promise<void> {
  await db
    .updateTable('billing_role_changes')
    .set({ attempts: sql`attempts + 1`, last_error: error.slice(0, 500), next_attempt_at: sql`now() + make_interval(secs => ${delaySeconds})` })
    .where('id', '=', id)
    .execute();
}

/**
 * The right to tell the guild's log channel about this (role, problem) now: true at most once per `windowHours`,
 * whichever drainer asks first.
 */
export async function claimRoleAlert(db: Db, guildId: string, roleId: string, problem: string, windowHours: number): Promise<boolean> {
  const row = await db
    .insertInto('billing_role_alerts')
    .values({ guild_id: guildId, role_id: roleId, problem })
    .onConflict((oc) =>
      oc
        .columns(['guild_id', 'role_id', 'problem'])
        .doUpdateSet({ alerted_at: sql`now()` })
        .where('billing_role_alerts.alerted_at', '<', sql<Date>`now() - make_interval(hours => ${windowHours})`),
    )
    .returning('guild_id')
    .executeTakeFirst();
  return row !== undefined;
}

/** Role grants for the live subscriptions of members who just joined (re)joined a guild, in one statement. */
export async function enqueueRejoinGrants(db: Db, joins: ReadonlyArray<{ guildId: string; discordId: string }>): Promise<number> {
  if (joins.length === 0) return 0;
  const result = await sql`
    INSERT INTO billing_role_changes (guild_id, user_id, role_id, op, reason, subscription_id)
    SELECT s.guild_id, s.user_id, p.role_id, 'add', 'member rejoined; subscription ' || s.id || ' is live', s.id
    FROM unnest(${joins.map((j) => j.guildId)}::text[], ${joins.map((j) => j.discordId)}::text[]) AS j(guild_id, discord_id)
    JOIN users u ON u.discord_id = j.discord_id
    JOIN billing_subscriptions s ON s.user_id = u.id AND s.guild_id = j.guild_id AND s.status = 'ACTIVE'
    JOIN billing_plans p ON p.id = s.plan_id`.execute(db);
  return Number(result.numAffectedRows ?? 0n);
}

// ---------------------------------------------------------------- reconcile (role-sync)

/** Guilds with at least one plan (archived ones count while they have live subscriptions). */
export async function guildsWithPlans(db: Db): Promise<string[]> {
  const rows = await db.selectFrom('billing_plans').select('guild_id').distinct().orderBy('guild_id').execute();
  return rows.map((r) => r.guild_id);
}

/** The roles the guild's plans grant, and who (discord id) holds a live subscription for each. */
export async function guildRoleHolders(db: Db, guildId: string): Promise<{ planRoles: Set<string>; live: Array<{ roleId: string; discordId: string; userId: bigint; subscriptionId: bigint }> }> {
  const plans = await db.selectFrom('billing_plans').select('role_id').where('guild_id', '=', guildId).execute();
  const live = await db
    .selectFrom('billing_subscriptions as s')
    .innerJoin('billing_plans as p', 'p.id', 's.plan_id')
    .innerJoin('users as u', 'u.id', 's.user_id')
    .select(['p.role_id as roleId', 'u.discord_id as discordId', 's.user_id as userId', 's.id as subscriptionId'])
    .where('s.guild_id', '=', guildId)
    .where('s.status', '=', 'ACTIVE')
    .execute();
  return { planRoles: new Set(plans.map((p) => p.role_id)), live };
}

export interface RepairInsert {
  guildId: string;
  discordId: string;
  username: string;
  roleId: string;
  op: 'add' | 'remove';
  reason: string;
}

/**
 * Queues reconcile repairs, skipping (guild, member, role, op) that already wait in the outbox. A member holding a
 * plan's role whom the bot has never seen gets a users row first (the outbox is keyed by it).
 */
export async function enqueueRepairs(db: Db, repairs: readonly RepairInsert[]): Promise<number> {
  if (repairs.length === 0) return 0;
  const col = <K extends keyof RepairInsert>(k: K) => repairs.map((r) => r[k]);
  await sql`
    INSERT INTO users (discord_id, username)
    SELECT * FROM unnest(${col('discordId')}::text[], ${col('username')}::text[])
    ON CONFLICT (discord_id) DO NOTHING`.execute(db);
  const result = await sql`
    INSERT INTO billing_role_changes (guild_id, user_id, role_id, op, reason)
    SELECT r.guild_id, u.id, r.role_id, r.op, r.reason
    FROM unnest(${col('guildId')}::text[], ${col('discordId')}::text[], ${col('roleId')}::text[], ${col('op')}::text[], ${col('reason')}::text[])
      AS r(guild_id, discord_id, role_id, op, reason)
    JOIN users u ON u.discord_id = r.discord_id
    WHERE NOT EXISTS (
      SELECT 1 FROM billing_role_changes c
      WHERE c.done_at IS NULL AND c.guild_id = r.guild_id AND c.user_id = u.id AND c.role_id = r.role_id AND c.op = r.op)`.execute(db);
  return Number(result.numAffectedRows ?? 0n);
}

// ---------------------------------------------------------------- subscription-expiry

/**
 * Expires up to `limit` ACTIVE (or SUSPENDED) subscriptions due at `now` and queues their role removals (a suspended
 * one's role was already removed; the removal is idempotent and repairs drift), in one statement (so in
 * one short transaction): the rows are locked with SKIP LOCKED (a payment extending one right now keeps it, and the
 * next run sees it again if it is still due) only until the statement commits.
 */
export async function expireDueBatch(db: Db, now: Date, limit: number, status: 'ACTIVE' | 'SUSPENDED' = 'ACTIVE'): Promise<number> {
  // One status per statement: each has its own partial index on expires_at, in the order the batch walks.
  const { rows } = await sql<{ n: string }>`
    WITH due AS (
      SELECT id FROM billing_subscriptions
      WHERE status = ${sql.lit(status)} AND expires_at <= ${now}
      -- The partial index's own order: a tie-break on id would sort every due row again for each batch.
      ORDER BY expires_at
      LIMIT ${limit}
      FOR UPDATE SKIP LOCKED
    ), ended AS (
      -- A suspended one keeps the time it became inactive (its suspension). Setting updated_at here spares the
      -- per-row set_updated_at() trigger call (migration 2026_11_28_210000: it fires only when a statement does not).
      UPDATE billing_subscriptions s SET status = 'EXPIRED', inactive_since = coalesce(s.inactive_since, ${now}), updated_at = now()
      FROM due WHERE s.id = due.id
      RETURNING s.id, s.guild_id, s.user_id, s.plan_id
    ), queued AS (
      -- The references are checked once for the whole batch (statement-level, migration 2026_11_28_210000), not by
      -- two RI queries per row: user and subscription come from the row this statement just locked and updated.
      INSERT INTO billing_role_changes (guild_id, user_id, role_id, op, reason, subscription_id)
      SELECT e.guild_id, e.user_id, p.role_id, 'remove', 'subscription ' || e.id || ' expired', e.id
      FROM ended e JOIN billing_plans p ON p.id = e.plan_id
      RETURNING 1
    )
    SELECT count(*)::text AS n FROM queued`.execute(db);
  return Number(rows[0]?.n ?? 0);
}

// ---------------------------------------------------------------- subscription-reminders

export interface Reminder {
  id: bigint;
  guild_id: string;
  discord_id: string;
  plan_name: string;
  plan_code: string;
  expires_at: Date;
  auto_renew: boolean;
  trial: boolean;
}

/**
 * Marks up to `limit` ACTIVE subscriptions as reminded for this window and returns them, in one statement: whoever
 * commits the mark owes the DM (queued in the same transaction), so a rerun or another replica never owes it twice.
 * The 3-day window ends where the 1-day one starts, so a subscription bought
 * with less than a day left gets only the 1-day reminder.
 */
export async function claimReminders(db: Db, which: '3d' | '1d', now: Date, limit: number): Promise<Reminder[]> {
  const column = which === '3d' ? sql.ref('reminded_3d_at') : sql.ref('reminded_1d_at');
  const [from, to] = which === '3d' ? [1, 3] : [0, 1];
  const { rows } = await sql<Reminder>`
    WITH due AS (
      SELECT id FROM billing_subscriptions
      WHERE status = 'ACTIVE' AND ${column} IS NULL
        AND expires_at > ${now}::timestamptz + make_interval(days => ${from})
        AND expires_at <= ${now}::timestamptz + make_interval(days => ${to})
      ORDER BY expires_at, id
      LIMIT ${limit}
      FOR UPDATE SKIP LOCKED
    )
    UPDATE billing_subscriptions s SET ${column} = ${now}
    FROM due, users u, billing_plans p
    WHERE s.id = due.id AND u.id = s.user_id AND p.id = s.plan_id
    RETURNING s.id, s.guild_id, u.discord_id, p.name AS plan_name, p.code AS plan_code, s.expires_at, s.auto_renew, s.trial`.execute(db);
  return rows;
}

// ---------------------------------------------------------------- subscription-renewal

export interface RenewalCandidate {
  id: bigint;
  guild_id: string;
  discord_id: string;
  username: string;
  plan_code: string;
  plan_status: string;
  cycle: Cycle;
  currency: string;
  expires_at: Date;
}

/** ACTIVE auto-renewing subscriptions expiring within `aheadHours` of `now`, soonest first, after `afterId`. */
export async function renewalCandidates(db: Db, now: Date, aheadHours: number, limit: number, afterId = 0n): Promise<RenewalCandidate[]> {
  return db
    .selectFrom('billing_subscriptions as s')
    .innerJoin('users as u', 'u.id', 's.user_id')
    .innerJoin('billing_plans as p', 'p.id', 's.plan_id')
    .select(['s.id', 's.guild_id', 'u.discord_id', 'u.username', 'p.code as plan_code', 'p.status as plan_status', 's.cycle', 's.currency', 's.expires_at'])
    .where('s.status', '=', 'ACTIVE')
    .where('s.auto_renew', '=', true)
    .where('s.cancel_requested_at', 'is', null)
    .where('s.expires_at', '<=', sql<Date>`${now}::timestamptz + make_interval(hours => ${aheadHours})`)
    .where('s.id', '>', afterId)
    .orderBy('s.id')
    .limit(limit)
    .execute();
}

// ---------------------------------------------------------------- invoice-expiry

export interface DueInvoice {
  id: bigint;
  number: string;
  recipient: string | null;
  discord_id: string;
  plan_name: string;
  plan_code: string;
}

/** Open invoices whose quoted amount expired by `now`, oldest first, with what the expiry DM names. */
export async function expiredOpenInvoices(db: Db, now: Date, limit: number): Promise<DueInvoice[]> {
  return db
    .selectFrom('billing_invoices as i')
    .innerJoin('users as u', 'u.id', 'i.user_id')
    .innerJoin('billing_plans as p', 'p.id', 'i.plan_id')
    .select(['i.id', 'i.number', 'i.recipient', 'u.discord_id', 'p.name as plan_name', 'p.code as plan_code'])
    .where('i.status', 'in', ['CREATED', 'PENDING'])
    .where('i.rate_locked_until', '<=', now)
    .orderBy('i.rate_locked_until')
    .orderBy('i.id')
    .limit(limit)
    .execute();
}
