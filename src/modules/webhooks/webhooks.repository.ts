import { sql, type Kysely, type Transaction } from 'kysely';
import type { DB } from '../../db/schema';
import type { Environment } from '../quota/quota.tables';
import type { DeliveryStatus } from './webhooks.tables';

type Db = Kysely<DB> | Transaction<DB>;

/** The environment an endpoint is registered for, with the member owning its client (whose events it receives). */
export function environmentOwner(db: Db, environmentId: bigint) {
  return db
    .selectFrom('api_client_environments as e')
    .innerJoin('api_clients as c', 'c.id', 'e.client_id')
    .select(['e.id', 'e.environment', 'e.active', 'c.owner_user_id', 'c.active as client_active'])
    .where('e.id', '=', environmentId)
    .executeTakeFirst();
}

/** Locks the environment's row so concurrent registrations count endpoints one at a time. */
export async function countEndpointsForUpdate(db: Transaction<DB>, environmentId: bigint): Promise<number> {
  await db.selectFrom('api_client_environments').select('id').where('id', '=', environmentId).forUpdate().execute();
  const row = await db
    .selectFrom('webhook_endpoints')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('environment_id', '=', environmentId)
    .where('active', '=', true)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export function insertEndpoint(db: Db, e: { environmentId: bigint; ownerUserId: bigint; url: string; eventTypes: string[]; secret: string }) {
  return db
    .insertInto('webhook_endpoints')
    .values({ environment_id: e.environmentId, owner_user_id: e.ownerUserId, url: e.url, event_types: e.eventTypes, secret: e.secret })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export function listEndpoints(db: Db, o: { environmentId?: bigint; limit: number; beforeId?: bigint }) {
  let q = db.selectFrom('webhook_endpoints').selectAll().orderBy('id', 'desc').limit(o.limit);
  if (o.environmentId !== undefined) q = q.where('environment_id', '=', o.environmentId);
  if (o.beforeId !== undefined) q = q.where('id', '<', o.beforeId);
  return q.execute();
}

export function findEndpoint(db: Db, id: bigint) {
  return db.selectFrom('webhook_endpoints').selectAll().where('id', '=', id).executeTakeFirst();
}

export function disableEndpoint(db: Db, id: bigint, reason: string) {
  return db
    .updateTable('webhook_endpoints')
    .set({ active: false, disabled_reason: reason })
    .where('id', '=', id)
    .where('active', '=', true)
    .returningAll()
    .executeTakeFirst();
}

/** Pending deliveries of a disabled endpoint will never be sent: they are marked dead with the reason. */
export function killPendingOf(db: Db, endpointId: bigint, reason: string) {
  return db
    .updateTable('webhook_deliveries')
    .set({ status: 'dead', last_error: reason })
    .where('endpoint_id', '=', endpointId)
    .where('status', '=', 'pending')
    .execute();
}

export interface ClaimedDelivery {
  id: bigint;
  event_id: string;
  endpoint_id: bigint;
  attempts: number;
  /** The request body, built by webhook_event_body() (migration 2026_11_28_224000). */
  body: string;
  url: string;
  secret: string;
  /** The pre-rotation secret while its overlap window lasts (database clock), else null. */
  previous_secret: string | null;
}

/**
 * Takes up to `limit` due deliveries and leases them for `leaseSeconds` (leased_until moves past the attempt), in
 * one statement: SKIP LOCKED lets concurrent runners take disjoint batches, and the lease keeps a delivery from being
 * sent twice while its HTTP request is in flight without holding a row lock across the network call. A runner that
 * dies mid-attempt leaves the row due again once the lease ends (at-least-once; receivers dedupe by webhook-id).
 */
export async function claimDue(db: Db, limit: number, leaseSeconds: number): Promise<ClaimedDelivery[]> {
  // The statement lives in webhook_claim_due() (migration 2026_11_28_224000) so its plan is cached per connection:
  // due, unleased rows of active endpoints oldest first, SKIP LOCKED, leased by setting leased_until (no index holds it,
  // so the update is HOT), returned with the
  // body (webhook_event_body()) and the secrets signing now (the previous one only inside its window, database clock).
  // int8 arrives as bigint (src/db/database.ts sets the parser).
  const { rows } = await sql<ClaimedDelivery>`SELECT * FROM webhook_claim_due(${limit}, ${leaseSeconds})`.execute(db);
  return rows;
}

export interface DeliveredAttempt {
  id: bigint;
  endpointId: bigint;
  httpStatus: number;
  response: string;
}

/** Records successful attempts in one statement (webhook_mark_delivered()), and ends their endpoints' failure streaks. */
export async function markDeliveredMany(db: Db, done: readonly DeliveredAttempt[]): Promise<void> {
  await sql`SELECT webhook_mark_delivered(${done.map((d) => String(d.id))}::bigint[], ${done.map((d) => d.httpStatus)}::int[], ${done.map((d) => d.response)}::text[])`.execute(db);
}

export async function markFailed(
  db: Db,
  id: bigint,
  o: { status: DeliveryStatus; httpStatus: number | null; error: string; response: string | null; retryInSeconds: number },
) {
  await db
    .updateTable('webhook_deliveries')
    .set({
      status: o.status,
      last_status: o.httpStatus,
      last_error: o.error,
      last_response: o.response,
      // The database clock, like claimDue's: one clock decides when a delivery is due.
      next_attempt_at: sql<Date>`now() + make_interval(secs => ${o.retryInSeconds})`,
      // The attempt is over: from now on next_attempt_at alone says when it is due.
      leased_until: null,
    })
    .where('id', '=', id)
    .execute();
}

/** Starts the failure streak at the first failure; returns when it started. */
export async function noteEndpointFailure(db: Db, endpointId: bigint): Promise<Date | undefined> {
  const row = await db
    .updateTable('webhook_endpoints')
    .set({ failing_since: sql<Date>`coalesce(failing_since, now())` })
    .where('id', '=', endpointId)
    .returning('failing_since')
    .executeTakeFirst();
  return row?.failing_since ?? undefined;
}

/** Operator retry: due now, with a fresh schedule, whatever its state (a delivered one is sent again on purpose). */
export function retryDelivery(db: Db, id: bigint) {
  return db
    .updateTable('webhook_deliveries')
    .set({ status: 'pending', attempts: 0, next_attempt_at: sql<Date>`now()`, leased_until: null })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
}

export function listDeliveries(db: Db, o: { endpointId?: bigint; status?: DeliveryStatus; limit: number; beforeId?: bigint }) {
  let q = db.selectFrom('webhook_deliveries').selectAll().orderBy('id', 'desc').limit(o.limit);
  if (o.endpointId !== undefined) q = q.where('endpoint_id', '=', o.endpointId);
  if (o.status !== undefined) q = q.where('status', '=', o.status);
  if (o.beforeId !== undefined) q = q.where('id', '<', o.beforeId);
  return q.execute();
}

/** Seconds the oldest due delivery has been waiting (0 when none); one in flight (leased) is not waiting. */
export async function queueAgeSeconds(db: Db): Promise<number> {
  const { rows } = await sql<{ age: number | null }>`
    SELECT extract(epoch FROM now() - min(next_attempt_at))::float8 AS age
    FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= now() AND (leased_until IS NULL OR leased_until <= now())`.execute(db);
  return Math.max(0, rows[0]?.age ?? 0);
}

/**
 * Replaces the secret; the old one keeps signing for `overlapSeconds` (0: not at all). A second rotation inside the
 * window drops the oldest secret: at most two sign at once.
 */
export function rotateSecret(db: Db, id: bigint, secret: string, overlapSeconds: number) {
  return db
    .updateTable('webhook_endpoints')
    .set({
      previous_secret: overlapSeconds > 0 ? sql<string>`secret` : null,
      previous_secret_expires_at: overlapSeconds > 0 ? sql<Date>`now() + make_interval(secs => ${overlapSeconds})` : null,
      secret,
      secret_rotated_at: sql<Date>`now()`,
    })
    .where('id', '=', id)
    .where('active', '=', true)
    .returningAll()
    .executeTakeFirst();
}

/**
 * Replay: deliveries (to active endpoints) of events created in [from, to) that were delivered or died are due again
 * now with a fresh schedule, keeping their event ids. Pending ones are left alone: already queued, maybe in flight.
 */
export async function replayDeliveries(db: Db, o: { endpointId?: bigint; from: Date; to: Date }): Promise<{ replayed: number; pending: number }> {
  const { rows } = await sql<{ replayed: number; pending: number }>`
    WITH scope AS (
      SELECT d.id, d.status FROM webhook_deliveries d
      JOIN webhook_events ev ON ev.id = d.event_id
      JOIN webhook_endpoints ep ON ep.id = d.endpoint_id AND ep.active
      WHERE ev.created_at >= ${o.from} AND ev.created_at < ${o.to}
        ${o.endpointId !== undefined ? sql`AND d.endpoint_id = ${o.endpointId}` : sql``}
    ), replayed AS (
      UPDATE webhook_deliveries d SET status = 'pending', attempts = 0, next_attempt_at = now(), leased_until = NULL, delivered_at = NULL
      FROM scope WHERE d.id = scope.id AND scope.status <> 'pending'
      RETURNING d.id
    )
    SELECT (SELECT count(*) FROM replayed)::int AS replayed, (SELECT count(*) FROM scope WHERE status = 'pending')::int AS pending`.execute(db);
  return rows[0] ?? { replayed: 0, pending: 0 };
}

/** The Discord id of the member owning the endpoint's client (who is told when it gets disabled). */
export async function ownerDiscordId(db: Db, endpointId: bigint): Promise<string | undefined> {
  const row = await db
    .selectFrom('webhook_endpoints as ep')
    .innerJoin('users as u', 'u.id', 'ep.owner_user_id')
    .select('u.discord_id')
    .where('ep.id', '=', endpointId)
    .executeTakeFirst();
  return row?.discord_id;
}

/** A member's client environment by client name, for `/api webhook add`. */
export function ownedEnvironment(db: Db, ownerUserId: bigint, clientName: string, environment: Environment) {
  return db
    .selectFrom('api_client_environments as e')
    .innerJoin('api_clients as c', 'c.id', 'e.client_id')
    .select(['e.id', 'e.environment', 'e.active', 'c.name as client_name'])
    .where('c.owner_user_id', '=', ownerUserId)
    .where('c.name', '=', clientName)
    .where('e.environment', '=', environment)
    .executeTakeFirst();
}

/** A member's endpoints with their client's name, newest first. */
export function endpointsOfOwner(db: Db, ownerUserId: bigint, limit: number) {
  return db
    .selectFrom('webhook_endpoints as ep')
    .innerJoin('api_client_environments as e', 'e.id', 'ep.environment_id')
    .innerJoin('api_clients as c', 'c.id', 'e.client_id')
    .selectAll('ep')
    .select(['c.name as client_name', 'e.environment'])
    .where('ep.owner_user_id', '=', ownerUserId)
    .orderBy('ep.active', 'desc')
    .orderBy('ep.id', 'desc')
    .limit(limit)
    .execute();
}
