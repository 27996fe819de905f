import { sql, type Kysely, type Transaction } from 'kysely';
import type { DB } from '../../db/schema';
import type { Environment, PackageSource } from './quota.tables';

type Db = Kysely<DB> | Transaction<DB>;

// ---------------------------------------------------------------- clients and tokens

export function insertClient(db: Db, c: { ownerUserId: bigint; name: string; contacts: string[]; allowedOrigins: string[] }) {
  return db
    .insertInto('api_clients')
    .values({ owner_user_id: c.ownerUserId, name: c.name, contacts: c.contacts, allowed_origins: c.allowedOrigins })
    .onConflict((oc) => oc.constraint('api_clients_owner_name_key').doNothing())
    .returningAll()
    .executeTakeFirst();
}

/** Sets the environment's token (a new one replaces the old: rotation), reactivating a revoked environment. */
export function putEnvironmentToken(db: Db, clientId: bigint, environment: Environment, tokenHash: string, hint: string) {
  return db
    .insertInto('api_client_environments')
    .values({ client_id: clientId, environment, token_hash: tokenHash, token_hint: hint })
    .onConflict((oc) =>
      oc.constraint('api_client_environments_client_env_key').doUpdateSet({
        token_hash: tokenHash,
        token_hint: hint,
        active: true,
        revoked_at: null,
        rotated_at: sql<Date>`now()`,
      }),
    )
    .returningAll()
    .executeTakeFirstOrThrow();
}

export function revokeEnvironment(db: Db, clientId: bigint, environment: Environment) {
  return db
    .updateTable('api_client_environments')
    .set({ active: false, revoked_at: sql<Date>`now()` })
    .where('client_id', '=', clientId)
    .where('environment', '=', environment)
    .where('active', '=', true)
    .returningAll()
    .executeTakeFirst();
}

export function findClient(db: Db, clientId: bigint) {
  return db.selectFrom('api_clients').selectAll().where('id', '=', clientId).executeTakeFirst();
}

export function findClientByName(db: Db, ownerUserId: bigint, name: string) {
  return db.selectFrom('api_clients').selectAll().where('owner_user_id', '=', ownerUserId).where('name', '=', name).executeTakeFirst();
}

export function updateClient(db: Db, clientId: bigint, set: { active?: boolean; reporterId?: bigint | null; allowedOrigins?: string[]; contacts?: string[] }) {
  return db
    .updateTable('api_clients')
    .set({
      ...(set.active !== undefined ? { active: set.active } : {}),
      ...(set.reporterId !== undefined ? { reporter_id: set.reporterId } : {}),
      ...(set.allowedOrigins ? { allowed_origins: set.allowedOrigins } : {}),
      ...(set.contacts ? { contacts: set.contacts } : {}),
    })
    .where('id', '=', clientId)
    .returningAll()
    .executeTakeFirst();
}

/** Clients with their environments (no hashes) and owner, newest first; `ownerUserId` narrows to one member. */
export async function listClients(db: Db, o: { ownerUserId?: bigint; limit: number; beforeId?: bigint }) {
  let q = db
    .selectFrom('api_clients as c')
    .innerJoin('users as u', 'u.id', 'c.owner_user_id')
    .select(['c.id', 'c.name', 'c.contacts', 'c.allowed_origins', 'c.active', 'c.reporter_id', 'c.created_at', 'u.discord_id as owner_discord_id'])
    .orderBy('c.id', 'desc')
    .limit(o.limit);
  if (o.ownerUserId !== undefined) q = q.where('c.owner_user_id', '=', o.ownerUserId);
  if (o.beforeId !== undefined) q = q.where('c.id', '<', o.beforeId);
  const clients = await q.execute();
  const envs = clients.length
    ? await db
        .selectFrom('api_client_environments')
        .select(['id', 'client_id', 'environment', 'token_hint', 'active', 'created_at', 'rotated_at', 'revoked_at'])
        .where('client_id', 'in', clients.map((c) => c.id))
        .orderBy('environment')
        .execute()
    : [];
  return clients.map((c) => ({ ...c, environments: envs.filter((e) => e.client_id === c.id) }));
}

/** Everything a request needs to know about the token that authenticates it, in one round trip. */
export function findByTokenHash(db: Db, tokenHash: string) {
  return db
    .selectFrom('api_client_environments as e')
    .innerJoin('api_clients as c', 'c.id', 'e.client_id')
    .innerJoin('users as u', 'u.id', 'c.owner_user_id')
    .select([
      'e.id as environment_id',
      'e.environment',
      'e.active as environment_active',
      'c.id as client_id',
      'c.name as client_name',
      'c.active as client_active',
      'c.allowed_origins',
      'c.reporter_id',
      'u.id as user_id',
      'u.discord_id',
      'u.username',
    ])
    .where('e.token_hash', '=', tokenHash)
    .executeTakeFirst();
}

export function findEnvironment(db: Db, environmentId: bigint) {
  return db
    .selectFrom('api_client_environments as e')
    .innerJoin('api_clients as c', 'c.id', 'e.client_id')
    .select(['e.id', 'e.client_id', 'c.owner_user_id', 'c.reporter_id'])
    .where('e.id', '=', environmentId)
    .executeTakeFirst();
}

// ---------------------------------------------------------------- reporters

export function insertReporter(db: Db, name: string) {
  return db
    .insertInto('quota_reporters')
    .values({ name })
    .onConflict((oc) => oc.column('name').doNothing())
    .returningAll()
    .executeTakeFirst();
}

export function insertReporterToken(db: Db, reporterId: bigint, tokenHash: string) {
  return db.insertInto('quota_reporter_tokens').values({ reporter_id: reporterId, token_hash: tokenHash }).returning('id').executeTakeFirstOrThrow();
}

export function findReporterByTokenHash(db: Db, tokenHash: string) {
  return db
    .selectFrom('quota_reporter_tokens as t')
    .innerJoin('quota_reporters as r', 'r.id', 't.reporter_id')
    .select(['r.id as reporter_id', 'r.name', 'r.active', 't.invalidated_at'])
    .where('t.token_hash', '=', tokenHash)
    .executeTakeFirst();
}

export function findReporter(db: Db, reporterId: bigint) {
  return db.selectFrom('quota_reporters').selectAll().where('id', '=', reporterId).executeTakeFirst();
}

// ---------------------------------------------------------------- bundles, packages, vouchers

export function insertBundle(db: Db, b: { name: string; requests: bigint; method: string | null }) {
  return db
    .insertInto('quota_bundles')
    .values(b)
    .onConflict((oc) => oc.column('name').doNothing())
    .returningAll()
    .executeTakeFirst();
}

export function findBundles(db: Db, ids: bigint[]) {
  return ids.length ? db.selectFrom('quota_bundles').selectAll().where('id', 'in', ids).execute() : Promise.resolve([]);
}

export async function insertPackage(db: Db, name: string, bundles: Array<{ bundleId: bigint; validFrom?: Date; validUntil?: Date }>) {
  const pkg = await db
    .insertInto('quota_packages')
    .values({ name })
    .onConflict((oc) => oc.column('name').doNothing())
    .returningAll()
    .executeTakeFirst();
  if (!pkg) return undefined;
  if (bundles.length) {
    await db
      .insertInto('quota_package_bundles')
      .values(bundles.map((b) => ({ package_id: pkg.id, bundle_id: b.bundleId, ...(b.validFrom ? { valid_from: b.validFrom } : {}), ...(b.validUntil ? { valid_until: b.validUntil } : {}) })))
      .execute();
  }
  return pkg;
}

export function findPackage(db: Db, packageId: bigint) {
  return db.selectFrom('quota_packages').selectAll().where('id', '=', packageId).executeTakeFirst();
}

export function insertUserPackage(db: Db, p: { userId: bigint; packageId: bigint; source: PackageSource; sourceRef: string | null; validUntil?: Date }) {
  return db
    .insertInto('quota_user_packages')
    .values({ user_id: p.userId, package_id: p.packageId, source: p.source, source_ref: p.sourceRef, ...(p.validUntil ? { valid_until: p.validUntil } : {}) })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export function insertVoucher(db: Db, v: { code: string; packageId: bigint; usesLeft: number; validUntil: Date }) {
  return db
    .insertInto('quota_vouchers')
    .values({ code: v.code, package_id: v.packageId, uses_left: v.usesLeft, valid_until: v.validUntil })
    .onConflict((oc) => oc.column('code').doNothing())
    .returningAll()
    .executeTakeFirst();
}

/** Locks the voucher row: redemptions of one voucher queue up, so uses_left cannot go below zero or be over-spent. */
export function lockVoucher(trx: Transaction<DB>, code: string) {
  return trx.selectFrom('quota_vouchers').selectAll().where('code', '=', code).forUpdate().executeTakeFirst();
}

export async function insertRedemption(trx: Transaction<DB>, userId: bigint, voucherId: bigint): Promise<boolean> {
  const row = await trx
    .insertInto('quota_redeemed_vouchers')
    .values({ user_id: userId, voucher_id: voucherId })
    .onConflict((oc) => oc.columns(['user_id', 'voucher_id']).doNothing())
    .returning('user_id')
    .executeTakeFirst();
  return row !== undefined;
}

export function decrementVoucher(trx: Transaction<DB>, voucherId: bigint) {
  return trx.updateTable('quota_vouchers').set({ uses_left: sql<number>`uses_left - 1` }).where('id', '=', voucherId).execute();
}

// ---------------------------------------------------------------- periods and usage

/** The member's quota account, created with today's day (capped at 28) as the anchor. */
export async function ensureAccount(db: Db, userId: bigint, now: Date) {
  const anchor = Math.min(now.getUTCDate(), 28);
  const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), anchor));
  await db
    .insertInto('quota_accounts')
    .values({ user_id: userId, anchor_day: anchor, period_start: start })
    .onConflict((oc) => oc.column('user_id').doNothing())
    .execute();
  return db.selectFrom('quota_accounts').selectAll().where('user_id', '=', userId).executeTakeFirstOrThrow();
}

/** The bundles of the member's packages valid at `at` (a bundle in two packages counts twice). */
export function activeBundles(db: Db, userId: bigint, at: Date) {
  return db
    .selectFrom('quota_user_packages as up')
    .innerJoin('quota_package_bundles as pb', 'pb.package_id', 'up.package_id')
    .innerJoin('quota_bundles as b', 'b.id', 'pb.bundle_id')
    .select(['b.id', 'b.name', 'b.requests', 'b.method'])
    .where('up.user_id', '=', userId)
    .where('up.valid_from', '<=', at)
    .where('up.valid_until', '>', at)
    .where('pb.valid_from', '<=', at)
    .where('pb.valid_until', '>', at)
    .execute();
}

/** Requests + reported segments per method in one period of the member. */
export async function usageByMethod(db: Db, userId: bigint, periodStart: Date): Promise<Map<string, bigint>> {
  const rows = await db
    .selectFrom('quota_usage')
    .select(['method', sql<bigint>`sum(requests + reported)::bigint`.as('used')])
    .where('user_id', '=', userId)
    .where('period_start', '=', periodStart)
    .groupBy('method')
    .execute();
  return new Map(rows.map((r) => [r.method, BigInt(r.used)]));
}

export interface UsageDelta {
  userId: bigint;
  periodStart: Date;
  environmentId: bigint;
  method: string;
  requests: bigint;
}

/** Adds counted requests, one statement for the whole batch (rows sorted so concurrent flushes lock in one order). */
export async function addRequests(db: Db, deltas: UsageDelta[]): Promise<void> {
  if (deltas.length === 0) return;
  const sorted = [...deltas].sort((a, b) =>
    a.userId !== b.userId ? (a.userId < b.userId ? -1 : 1) : a.environmentId !== b.environmentId ? (a.environmentId < b.environmentId ? -1 : 1) : a.method < b.method ? -1 : a.method > b.method ? 1 : a.periodStart.getTime() - b.periodStart.getTime(),
  );
  await db
    .insertInto('quota_usage')
    .values(sorted.map((d) => ({ user_id: d.userId, period_start: d.periodStart, environment_id: d.environmentId, method: d.method, requests: d.requests })))
    .onConflict((oc) => oc.columns(['user_id', 'period_start', 'environment_id', 'method']).doUpdateSet({ requests: sql<bigint>`quota_usage.requests + excluded.requests` }))
    .execute();
}

/** Records a usage report once (per reporter and report id) and adds it to the period; false when it was a replay. */
export async function insertReport(
  trx: Transaction<DB>,
  r: { reporterId: bigint; reportId: string; userId: bigint; environmentId: bigint; method: string; segments: bigint; periodStart: Date },
) {
  const inserted = await trx
    .insertInto('quota_usage_reports')
    .values({
      reporter_id: r.reporterId,
      report_id: r.reportId,
      user_id: r.userId,
      environment_id: r.environmentId,
      method: r.method,
      segments: r.segments,
      period_start: r.periodStart,
    })
    .onConflict((oc) => oc.columns(['reporter_id', 'report_id']).doNothing())
    .returning('report_id')
    .executeTakeFirst();
  if (!inserted) {
    return trx
      .selectFrom('quota_usage_reports')
      .selectAll()
      .where('reporter_id', '=', r.reporterId)
      .where('report_id', '=', r.reportId)
      .executeTakeFirstOrThrow()
      .then((first) => ({ replayed: true as const, first }));
  }
  await trx
    .insertInto('quota_usage')
    .values({ user_id: r.userId, period_start: r.periodStart, environment_id: r.environmentId, method: r.method, reported: r.segments })
    .onConflict((oc) => oc.columns(['user_id', 'period_start', 'environment_id', 'method']).doUpdateSet({ reported: sql<bigint>`quota_usage.reported + excluded.reported` }))
    .execute();
  return { replayed: false as const, first: undefined };
}

/**
 * Closes every period that has ended by `now` (period_start + 1 month <= now): writes its totals to quota_periods
 * and moves the account to the next period. One statement, so a crash leaves either both or neither; a member whose
 * periods were missed for several months moves one period per run.
 */
export async function rollover(db: Db, now: Date, batch: number) {
  const { rows } = await sql<{ user_id: bigint; period_start: Date; next_start: Date }>`
    WITH due AS (
      SELECT user_id, period_start, (period_start + interval '1 month') AS next_start
      FROM quota_accounts
      WHERE period_start + interval '1 month' <= ${now}
      ORDER BY user_id
      LIMIT ${batch}
      FOR UPDATE SKIP LOCKED
    ), closed AS (
      INSERT INTO quota_periods (user_id, period_start, period_end, requests, reported)
      SELECT d.user_id, d.period_start, d.next_start,
             COALESCE((SELECT sum(requests) FROM quota_usage u WHERE u.user_id = d.user_id AND u.period_start = d.period_start), 0),
             COALESCE((SELECT sum(reported) FROM quota_usage u WHERE u.user_id = d.user_id AND u.period_start = d.period_start), 0)
      FROM due d
      ON CONFLICT (user_id, period_start) DO NOTHING
    )
    UPDATE quota_accounts a SET period_start = d.next_start
    FROM due d WHERE a.user_id = d.user_id
    RETURNING a.user_id, d.period_start, d.next_start`.execute(db);
  return rows;
}

/**
 * Recomputes `reported` from the report rows (the source of truth for reports) and fixes rows that drifted;
 * returns what was fixed.
 */
export async function reconcileReported(db: Db, since: Date) {
  const { rows } = await sql<{ user_id: bigint; period_start: Date; environment_id: bigint; method: string; was: bigint; now: bigint }>`
    WITH truth AS (
      SELECT user_id, period_start, environment_id, method, sum(segments)::bigint AS reported
      FROM quota_usage_reports WHERE period_start >= ${since}
      GROUP BY 1, 2, 3, 4
    ), drift AS (
      SELECT COALESCE(t.user_id, u.user_id) AS user_id, COALESCE(t.period_start, u.period_start) AS period_start,
             COALESCE(t.environment_id, u.environment_id) AS environment_id, COALESCE(t.method, u.method) AS method,
             COALESCE(u.reported, 0) AS was, COALESCE(t.reported, 0) AS now
      FROM truth t
      FULL JOIN (SELECT * FROM quota_usage WHERE period_start >= ${since}) u
        USING (user_id, period_start, environment_id, method)
      WHERE COALESCE(u.reported, 0) <> COALESCE(t.reported, 0)
    ), fixed AS (
      INSERT INTO quota_usage (user_id, period_start, environment_id, method, reported)
      SELECT user_id, period_start, environment_id, method, now FROM drift
      ON CONFLICT (user_id, period_start, environment_id, method) DO UPDATE SET reported = excluded.reported
    )
    SELECT * FROM drift`.execute(db);
  return rows;
}

export function periodHistory(db: Db, userId: bigint, limit: number) {
  return db.selectFrom('quota_periods').selectAll().where('user_id', '=', userId).orderBy('period_start', 'desc').limit(limit).execute();
}

/** Totals of one period per client environment and method (for /quota and the invariant check). */
export function usageRows(db: Db, userId: bigint, periodStart: Date) {
  return db
    .selectFrom('quota_usage')
    .selectAll()
    .where('user_id', '=', userId)
    .where('period_start', '=', periodStart)
    .orderBy('environment_id')
    .orderBy('method')
    .execute();
}

// ---------------------------------------------------------------- idempotency keys

export function deleteIdempotencyKeysBefore(db: Db, before: Date) {
  return db.deleteFrom('api_idempotency_keys').where('created_at', '<', before).executeTakeFirst();
}
