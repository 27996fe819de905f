import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { DB } from '../../db/schema';
import { storeSignedTxSet, type SignedTx } from '../../db/signed-tx-outbox';
import type { BadgeChainOpsTable, BadgeOpKind, BadgeStatus, TrustBadgesTable } from './badges.tables';

type Db = Kysely<DB> | Transaction<DB>;

export type BadgeRow = Selectable<TrustBadgesTable> & { discord_id: string };
export type BadgeOpRow = Selectable<BadgeChainOpsTable>;

export const LIVE_STATUSES: BadgeStatus[] = ['queued', 'minting', 'active', 'revoking'];

// ---------------------------------------------------------------- verifications

export async function acceptTerms(db: Db, userId: bigint, termsVersion: string): Promise<{ accepted_at: Date }> {
  return db
    .insertInto('verifications')
    .values({ user_id: userId, terms_version: termsVersion })
    .onConflict((oc) => oc.columns(['user_id', 'terms_version']).doUpdateSet({ terms_version: termsVersion }))
    .returning('accepted_at')
    .executeTakeFirstOrThrow();
}

export function findVerification(db: Db, userId: bigint, termsVersion: string) {
  return db.selectFrom('verifications').selectAll().where('user_id', '=', userId).where('terms_version', '=', termsVersion).executeTakeFirst();
}

export async function recordVerifiedMint(db: Db, userId: bigint, termsVersion: string, wallet: string, mint: string): Promise<void> {
  await db
    .updateTable('verifications')
    .set({ wallet, nft_mint: mint, verified_at: sql`now()` })
    .where('user_id', '=', userId)
    .where('terms_version', '=', termsVersion)
    .execute();
}

// ---------------------------------------------------------------- badges

const badgeColumns = (db: Db) =>
  db.selectFrom('trust_badges as b').innerJoin('users as u', 'u.id', 'b.user_id').selectAll('b').select('u.discord_id');

export function findBadge(db: Db, id: bigint): Promise<BadgeRow | undefined> {
  return badgeColumns(db).where('b.id', '=', id).executeTakeFirst();
}

export function findBadgeByMint(db: Db, mint: string): Promise<BadgeRow | undefined> {
  return badgeColumns(db).where('b.mint', '=', mint).executeTakeFirst();
}

/** The live badge, else the latest one. */
export function findCurrentBadge(db: Db, userId: bigint): Promise<BadgeRow | undefined> {
  return badgeColumns(db)
    .where('b.user_id', '=', userId)
    .orderBy(sql`b.status IN ('queued', 'minting', 'active', 'revoking')`, 'desc')
    .orderBy('b.id', 'desc')
    .limit(1)
    .executeTakeFirst();
}

export function listBadges(db: Db, opts: { status?: BadgeStatus; limit: number; beforeId?: bigint }): Promise<BadgeRow[]> {
  let q = badgeColumns(db).orderBy('b.id', 'desc').limit(opts.limit);
  if (opts.status) q = q.where('b.status', '=', opts.status);
  if (opts.beforeId !== undefined) q = q.where('b.id', '<', opts.beforeId);
  return q.execute();
}

/**
 * Inserts the badge and its mint op; the mint address is derived from the id, so it is set in the same
 * transaction. Returns undefined when the user already has a live badge (the partial unique index decides, so
 * two concurrent claims make one badge).
 */
export async function insertBadgeWithMintOp(
  trx: Transaction<DB>,
  b: { userId: bigint; wallet: string; issuer: string; termsVersion: string; score: number; tier: string },
  mintOf: (id: bigint) => string,
): Promise<BadgeRow | undefined> {
  const inserted = await trx
    .insertInto('trust_badges')
    .values({ user_id: b.userId, wallet: b.wallet, issuer: b.issuer, terms_version: b.termsVersion, reputation_score: b.score, tier: b.tier })
    .onConflict((oc) => oc.column('user_id').where('status', 'in', LIVE_STATUSES).doNothing())
    .returning('id')
    .executeTakeFirst();
  if (!inserted) return undefined;
  await trx.updateTable('trust_badges').set({ mint: mintOf(inserted.id) }).where('id', '=', inserted.id).execute();
  await trx.insertInto('badge_chain_ops').values({ badge_id: inserted.id, kind: 'mint' }).execute();
  return findBadge(trx, inserted.id);
}

export async function setBadgeStatus(
  db: Db,
  id: bigint,
  from: BadgeStatus[],
  patch: Partial<{
    status: BadgeStatus;
    failure_reason: string | null;
    minted_at: Date;
    revoked_at: Date;
    burned_at: Date;
    chain_reputation: string;
    chain_tier: string;
    synced_at: Date;
  }>,
): Promise<boolean> {
  const r = await db
    .updateTable('trust_badges')
    .set({ ...patch, updated_at: sql`now()` })
    .where('id', '=', id)
    .where('status', 'in', from)
    .executeTakeFirst();
  return r.numUpdatedRows > 0n;
}

export async function requestRevoke(db: Db, id: bigint, reason: string, by: string): Promise<boolean> {
  const r = await db
    .updateTable('trust_badges')
    .set({ revoke_requested_at: sql`coalesce(revoke_requested_at, now())`, revoke_reason: reason, revoked_by: by, updated_at: sql`now()` })
    .where('id', '=', id)
    .where('status', 'in', LIVE_STATUSES)
    .where('revoke_requested_at', 'is', null)
    .executeTakeFirst();
  return r.numUpdatedRows > 0n;
}

/** Badges whose revoke was asked for and whose revoke op is not queued yet. */
export function badgesToRevoke(db: Db, limit: number) {
  return db
    .selectFrom('trust_badges')
    .select(['id', 'status'])
    .where('revoke_requested_at', 'is not', null)
    .where('status', 'in', ['queued', 'minting', 'active'])
    .orderBy('id')
    .limit(limit)
    .execute();
}

// ---------------------------------------------------------------- chain ops (the outbox)

export function findOp(db: Db, id: bigint): Promise<BadgeOpRow | undefined> {
  return db.selectFrom('badge_chain_ops').selectAll().where('id', '=', id).executeTakeFirst();
}

export function openOps(db: Db, limit: number): Promise<BadgeOpRow[]> {
  return db.selectFrom('badge_chain_ops').selectAll().where('status', 'in', ['pending', 'sent']).orderBy('id').limit(limit).execute();
}

export function openOpOf(db: Db, badgeId: bigint, kind: BadgeOpKind): Promise<BadgeOpRow | undefined> {
  return db
    .selectFrom('badge_chain_ops')
    .selectAll()
    .where('badge_id', '=', badgeId)
    .where('kind', '=', kind)
    .where('status', 'in', ['pending', 'sent'])
    .executeTakeFirst();
}

/** Queues an op unless one of that kind is already in flight for the badge. */
export async function enqueueOp(db: Db, badgeId: bigint, kind: BadgeOpKind, payload: Record<string, string> = {}): Promise<boolean> {
  const r = await db
    .insertInto('badge_chain_ops')
    .values({ badge_id: badgeId, kind, payload: JSON.stringify(payload) })
    .onConflict((oc) => oc.columns(['badge_id', 'kind']).where('status', 'in', ['pending', 'sent']).doNothing())
    .executeTakeFirst();
  return (r.numInsertedOrUpdatedRows ?? 0n) > 0n;
}

export function storeSignedOp(
  db: Db,
  id: bigint,
  replacing: string | null,
  tx: SignedTx,
) {
  return db
    .updateTable('badge_chain_ops')
    .set({
      status: 'pending',
      ...storeSignedTxSet(tx, replacing),
      updated_at: sql`now()`,
    })
    .where('id', '=', id)
    .where('status', 'in', ['pending', 'sent'])
    .where((eb) => (replacing === null ? eb('signature', 'is', null) : eb('signature', '=', replacing)))
    .returningAll()
    .executeTakeFirst();
}

export async function markOpSent(db: Db, id: bigint, signature: string): Promise<void> {
  await db
    .updateTable('badge_chain_ops')
    .set({ status: 'sent', sent_at: sql`coalesce(sent_at, now())`, updated_at: sql`now()` })
    .where('id', '=', id)
    .where('signature', '=', signature)
    .where('status', 'in', ['pending', 'sent'])
    .execute();
}

export async function noteOpFailure(db: Db, id: bigint, reason: string): Promise<void> {
  await db.updateTable('badge_chain_ops').set({ failure_reason: reason, updated_at: sql`now()` }).where('id', '=', id).execute();
}

/** Final states; only from in flight and, when given, while `signature` is still the one in flight. */
export async function finishOp(db: Db, id: bigint, status: 'confirmed' | 'failed' | 'canceled', signature: string | null, reason?: string): Promise<boolean> {
  let q = db
    .updateTable('badge_chain_ops')
    .set({
      status,
      ...(status === 'confirmed' ? { confirmed_at: sql`now()` } : {}),
      ...(reason !== undefined ? { failure_reason: reason } : {}),
      updated_at: sql`now()`,
    })
    .where('id', '=', id)
    .where('status', 'in', ['pending', 'sent']);
  if (signature !== null) q = q.where('signature', '=', signature);
  const r = await q.executeTakeFirst();
  return r.numUpdatedRows > 0n;
}

// ---------------------------------------------------------------- ratings

export async function insertRating(db: Db, r: { raterId: bigint; rateeId: bigint; score: number; comment: string | null; period: string }): Promise<boolean> {
  const res = await db
    .insertInto('ratings')
    .values({ rater_id: r.raterId, ratee_id: r.rateeId, score: r.score, comment: r.comment, period: r.period })
    .onConflict((oc) => oc.columns(['rater_id', 'ratee_id', 'period']).doNothing())
    .executeTakeFirst();
  return (res.numInsertedOrUpdatedRows ?? 0n) > 0n;
}

/** Whether two members have interacted: a tip either way, or a ticket one opened and the other handled. */
export async function haveInteracted(db: Db, a: bigint, b: bigint): Promise<boolean> {
  const { rows } = await sql<{ met: boolean }>`
    SELECT EXISTS (
      SELECT 1 FROM tips WHERE (sender_id = ${a} AND receiver_id = ${b}) OR (sender_id = ${b} AND receiver_id = ${a})
    ) OR EXISTS (
      SELECT 1 FROM tickets WHERE (user_id = ${a} AND claimed_by = ${b}) OR (user_id = ${b} AND claimed_by = ${a})
    ) AS met`.execute(db);
  return rows[0]?.met === true;
}

// ---------------------------------------------------------------- reputation

export function findScore(db: Db, userId: bigint) {
  return db.selectFrom('reputation_scores').selectAll().where('user_id', '=', userId).executeTakeFirst();
}

/**
 * The reputation formula (README "Reputation"), set-based over every user in one statement. Each input is one
 * grouped aggregate joined by user id, so the cost is a few hash joins however many users there are.
 */
export async function recomputeScores(db: Db, tiers: { name: string; min: number }[], only?: bigint): Promise<number> {
  const filter = only === undefined ? sql`` : sql`WHERE u.id = ${only}`;
  const tierCase = sql.join(
    [...tiers].sort((x, y) => y.min - x.min).map((t) => sql`WHEN s.score >= ${sql.lit(t.min)} THEN ${sql.lit(t.name)}`),
    sql` `,
  );
  const result = await sql`
    WITH
      sent AS (SELECT sender_id AS user_id, count(*) AS n, count(DISTINCT receiver_id) AS peers FROM tips GROUP BY sender_id),
      recv AS (SELECT receiver_id AS user_id, count(*) AS n, count(DISTINCT sender_id) AS peers FROM tips GROUP BY receiver_id),
      helped AS (SELECT claimed_by AS user_id, count(*) AS n FROM tickets
                 WHERE status = 'closed' AND rating >= 4 AND claimed_by IS NOT NULL GROUP BY claimed_by),
      rated AS (SELECT ratee_id AS user_id, count(*) AS n, avg(score)::float8 AS avg FROM ratings GROUP BY ratee_id),
      revoked AS (SELECT user_id, count(*) AS n FROM trust_badges WHERE status = 'revoked' AND revoked_by <> 'wallet-unlink' GROUP BY user_id),
      reversed AS (SELECT user_id, count(*) AS n FROM withdrawals WHERE status = 'refunded' AND approved_by IS NOT NULL GROUP BY user_id),
      parts AS (
        SELECT u.id AS user_id, u.is_blocked,
          floor(least(extract(epoch FROM now() - u.created_at) / 86400, 365) / 365 * 150)::int AS account_age,
          coalesce(floor(least(extract(epoch FROM now() - w.verified_at) / 86400, 180) / 180 * 100)::int, 0) AS wallet_age,
          (least(coalesce(sent.peers, 0), 20) * 5 + least(coalesce(recv.peers, 0), 20) * 5
            + floor(least(coalesce(sent.n, 0) + coalesce(recv.n, 0), 100) / 2))::int AS tips,
          (least(coalesce(helped.n, 0), 20) * 5)::int AS tickets,
          coalesce(round((rated.avg - 3) / 2 * 200 * least(rated.n, 10) / 10), 0)::int AS ratings,
          (least(coalesce(revoked.n, 0), 4) * 150 + least(coalesce(reversed.n, 0), 4) * 25)::int AS penalties
        FROM users u
        LEFT JOIN wallet_registrations w ON w.user_id = u.id
        LEFT JOIN sent ON sent.user_id = u.id
        LEFT JOIN recv ON recv.user_id = u.id
        LEFT JOIN helped ON helped.user_id = u.id
        LEFT JOIN rated ON rated.user_id = u.id
        LEFT JOIN revoked ON revoked.user_id = u.id
        LEFT JOIN reversed ON reversed.user_id = u.id
        ${filter}
      ),
      s AS (
        SELECT p.*, CASE WHEN p.is_blocked THEN 0
          ELSE greatest(0, least(1000, 100 + account_age + wallet_age + tips + tickets + ratings - penalties)) END AS score
        FROM parts p
      )
    INSERT INTO reputation_scores (user_id, score, tier, components, computed_at)
    SELECT s.user_id, s.score, CASE ${tierCase} ELSE 'none' END,
      jsonb_build_object('base', 100, 'accountAge', account_age, 'walletAge', wallet_age, 'tips', tips, 'tickets', tickets,
        'ratings', ratings, 'penalties', penalties, 'blocked', is_blocked::int),
      now()
    FROM s
    ON CONFLICT (user_id) DO UPDATE SET score = excluded.score, tier = excluded.tier, components = excluded.components,
      computed_at = excluded.computed_at
    WHERE (reputation_scores.score, reputation_scores.tier, reputation_scores.components)
      IS DISTINCT FROM (excluded.score, excluded.tier, excluded.components)`.execute(db);
  return Number(result.numAffectedRows ?? 0n);
}

/** Active badges whose live score/tier differ from what they carry (the sync job), with the live values. */
export function badgesOutOfSync(db: Db, bucket: number, limit: number) {
  return db
    .selectFrom('trust_badges as b')
    .innerJoin('reputation_scores as r', 'r.user_id', 'b.user_id')
    .select(['b.id', 'b.mint', 'b.chain_reputation', 'b.chain_tier', 'r.score', 'r.tier'])
    .where('b.status', '=', 'active')
    .where('b.revoke_requested_at', 'is', null)
    .where((eb) =>
      eb.or([
        eb('b.chain_tier', 'is distinct from', eb.ref('r.tier')),
        eb('b.chain_reputation', 'is distinct from', sql<string>`lpad(((r.score / ${bucket}) * ${bucket})::text, 4, '0')`),
      ]),
    )
    .where(({ not, exists, selectFrom }) =>
      not(exists(selectFrom('badge_chain_ops as o').select('o.id').whereRef('o.badge_id', '=', 'b.id').where('o.kind', '=', 'update').where('o.status', 'in', ['pending', 'sent']))),
    )
    .orderBy('b.id')
    .limit(limit)
    .execute();
}

export function activeBadgesAfter(db: Db, afterId: bigint, limit: number) {
  return db
    .selectFrom('trust_badges')
    .select(['id', 'mint', 'wallet'])
    .where('status', '=', 'active')
    .where('id', '>', afterId)
    .orderBy('id')
    .limit(limit)
    .execute();
}
