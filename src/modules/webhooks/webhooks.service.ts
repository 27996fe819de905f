import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Config } from '../../config';
import type { DB } from '../../db/schema';
import { UserError } from '../../errors';
import type { Logger } from '../../logger';
import type { Metrics } from '../../metrics';
import { writeAudit, type AuditActor } from '../guilds/guilds.audit';
import type { Environment } from '../quota/quota.tables';
import * as users from '../users/users.accounts';
import { post } from './webhook-http';
import * as repo from './webhooks.repository';
import { newSecret, signedHeaders } from './webhooks.signing';
import { checkHost, isPrivateAddress, PrivateAddressError } from './ssrf-guard';
import type { DeliveryStatus } from './webhooks.tables';
import { isIP } from 'node:net';

/** The events the outbox triggers emit (migrations 2026_11_28_160000, 170000_billing and 180000); other names are refused. */
export const EVENT_TYPES = [
  'tip.received',
  'wallet.linked',
  'wallet.unlinked',
  'badge.minted',
  'badge.revoked',
  // Memberships (triggers in migration 2026_11_28_170000_billing).
  'invoice.paid',
  'subscription.activated',
  'subscription.renewed',
  'subscription.expired',
  'subscription.canceled',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];
/** What `/api webhook test` sends: signed like any event, never stored, never subscribed to. */
export const PING_EVENT = 'webhook.ping';

/** How long the old secret keeps signing after a rotation, unless the rotation says otherwise. */
export const DEFAULT_ROTATION_OVERLAP_SECONDS = 24 * 3600;
export const MAX_ROTATION_OVERLAP_SECONDS = 7 * 24 * 3600;
/** A replay covers at most this much event time (a bigger one is several calls, each checked by a person). */
export const MAX_REPLAY_RANGE_MS = 31 * 24 * 3600 * 1000;
/** `/api webhook list` shows this many endpoints (a member has at most 10 per environment). */
const LIST_LIMIT = 25;

export const MAX_ENDPOINTS_PER_ENVIRONMENT = 10;
export const ATTEMPT_TIMEOUT_MS = 10_000;
export const MAX_RESPONSE_BYTES = 4096;
/**
 * Seconds to wait after failed attempt n (1-based) before attempt n+1: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h,
 * 20 h, 24 h — ten attempts over about 3 days 3 hours, then the delivery is dead. Each wait is jittered by ±20 % so
 * a receiver coming back is not hit by every queued delivery in the same second.
 */
export const RETRY_SCHEDULE_SECONDS = [5, 300, 1800, 7200, 18_000, 36_000, 50_400, 72_000, 86_400] as const;
/** An endpoint failing every attempt for this long (no 2xx in between) is disabled. */
export const DISABLE_AFTER_FAILING_MS = 3 * 24 * 3600 * 1000;
/**
 * How long a claimed delivery is hidden from other claims while its attempt runs. It must outlast the worst case of
 * a claimed delivery: queued behind at most two batches (the one being sent and the prefetched one: 100 rows / 10
 * slots of attempts of at most 10 s each, ~100 s), then its own attempt, plus the batched write of the outcome. A dead
 * runner's rows are due again this long after.
 */
const LEASE_SECONDS = 150;
const BATCH = 50;
/** A run stops claiming after this long (the job ticks every 5 s; a longer run just skips ticks). */
const RUN_BUDGET_MS = 4000;
/** Successful attempts recorded per statement (scripts/bench/webhooks.ts: 10 → 25 took the drain rate from ~0.4× to ~0.55× plain POSTs). */
const WRITE_BATCH = 25;
const PARALLEL = 10;

export function retryDelay(failedAttempts: number, random: () => number = Math.random): number | undefined {
  const base = RETRY_SCHEDULE_SECONDS[failedAttempts - 1];
  if (base === undefined) return undefined;
  return Math.round(base * (0.8 + 0.4 * random()));
}

export interface EndpointView {
  id: bigint;
  environmentId: bigint;
  url: string;
  eventTypes: string[];
  active: boolean;
  disabledReason: string | null;
  /** While set and in the future, deliveries are signed with the pre-rotation secret too. */
  previousSecretExpiresAt: Date | null;
  createdAt: Date;
}

const view = (e: Awaited<ReturnType<typeof repo.insertEndpoint>>): EndpointView => ({
  id: e.id,
  environmentId: e.environment_id,
  url: e.url,
  eventTypes: e.event_types,
  active: e.active,
  disabledReason: e.disabled_reason,
  previousSecretExpiresAt: e.previous_secret_expires_at,
  createdAt: e.created_at,
});

/** A member as commands pass them. */
export interface Member {
  discordId: string;
  username: string;
}

/** An endpoint the bot disabled by itself (410, or failing for days): its owner is told. */
export interface EndpointDisabledNotice {
  discordId: string;
  endpointId: bigint;
  url: string;
  reason: string;
}
/** The Discord port (a DM); failures are the port's to log, never thrown into the delivery run. */
export type WebhookNotifier = (notice: EndpointDisabledNotice) => Promise<void>;

export interface PingResult {
  eventId: string;
  httpStatus: number | null;
  /** Null when the receiver answered 2xx. */
  error: string | null;
  ms: number;
}

interface SendResult {
  httpStatus: number | null;
  response: string | null;
  error: string;
}

export interface DeliveryRunResult {
  delivered: number;
  retried: number;
  dead: number;
}

/** Partner webhooks: endpoint registration (SSRF-checked) and the delivery of outbox rows the triggers wrote. */
export class WebhooksService {
  constructor(
    private readonly db: Kysely<DB>,
    private readonly config: Config,
    private readonly metrics?: Metrics,
    private readonly log?: Logger,
    private readonly notify?: WebhookNotifier,
  ) {}

  private get allowPrivate(): boolean {
    return this.config.WEBHOOKS_ALLOW_PRIVATE;
  }

  /** Registers an endpoint; the returned secret is the only time it is shown. */
  async createEndpoint(o: { environmentId: bigint; url: string; eventTypes: string[] }): Promise<{ endpoint: EndpointView; secret: string }> {
    const env = await repo.environmentOwner(this.db, o.environmentId);
    if (!env) throw new UserError('ENVIRONMENT_NOT_FOUND', `No API client environment ${o.environmentId}.`);
    if (!env.active || !env.client_active) throw new UserError('ENVIRONMENT_INACTIVE', 'That API client environment is deactivated.');
    const eventTypes = checkEventTypes(o.eventTypes);
    const url = await this.checkUrl(o.url, env.environment === 'prod');
    const secret = newSecret();
    const endpoint = await this.db.transaction().execute(async (trx) => {
      if ((await repo.countEndpointsForUpdate(trx, o.environmentId)) >= MAX_ENDPOINTS_PER_ENVIRONMENT)
        throw new UserError('TOO_MANY_ENDPOINTS', `An environment can have at most ${MAX_ENDPOINTS_PER_ENVIRONMENT} active webhook endpoints; disable one first.`);
      return repo.insertEndpoint(trx, { environmentId: o.environmentId, ownerUserId: env.owner_user_id, url: url.href, eventTypes, secret });
    });
    return { endpoint: view(endpoint), secret };
  }

  async listEndpoints(o: { environmentId?: bigint; limit: number; beforeId?: bigint }): Promise<EndpointView[]> {
    return (await repo.listEndpoints(this.db, o)).map(view);
  }

  /** Stops deliveries to the endpoint; what was still queued for it is marked dead. */
  /** `audit`: an operator's action (the admin API) is audited in its own transaction; an owner removing theirs is not. */
  async disableEndpoint(id: bigint, o: { reason?: string; audit?: AuditActor } = {}): Promise<EndpointView> {
    const reason = o.reason ?? 'disabled by an operator';
    return this.db.transaction().execute(async (trx) => {
      const e = await repo.disableEndpoint(trx, id, reason);
      if (!e) {
        if (await repo.findEndpoint(trx, id)) throw new UserError('ENDPOINT_DISABLED', `Webhook endpoint ${id} is already disabled.`);
        throw new UserError('ENDPOINT_NOT_FOUND', `No webhook endpoint ${id}.`);
      }
      const killed = await repo.killPendingOf(trx, id, reason);
      if (o.audit)
        await writeAudit(trx, { actor: o.audit, guildId: null, action: 'webhook.disable', target: `webhook_endpoint:${id}`, before: { active: true }, after: { active: false, deadDeliveries: Number(killed[0]?.numUpdatedRows ?? 0n) }, reason });
      return view(e);
    });
  }

  listDeliveries(o: { endpointId?: bigint; status?: DeliveryStatus; limit: number; beforeId?: bigint }) {
    return repo.listDeliveries(this.db, o);
  }

  /** Operator retry: the delivery is due now with a fresh schedule (its event keeps its id, so receivers can dedupe). */
  async retryDelivery(id: bigint, o: { audit?: AuditActor } = {}) {
    return this.db.transaction().execute(async (trx) => {
      const d = await repo.retryDelivery(trx, id);
      if (!d) throw new UserError('DELIVERY_NOT_FOUND', `No webhook delivery ${id}.`);
      const e = await repo.findEndpoint(trx, d.endpoint_id);
      if (!e?.active) throw new UserError('ENDPOINT_DISABLED', `Webhook endpoint ${d.endpoint_id} is disabled; nothing would be sent.`);
      if (o.audit)
        await writeAudit(trx, { actor: o.audit, guildId: null, action: 'webhook.retry', target: `webhook_delivery:${id}`, after: { endpointId: String(d.endpoint_id), eventId: d.event_id } });
      return d;
    });
  }

  /**
   * One run of the delivery job: sends due deliveries until none is left or `maxMs` has passed (a backlog drains at
   * full speed instead of one batch per tick). PARALLEL attempts are in flight, each taking the next claimed delivery
   * when done (a slow receiver holds one slot, not a whole batch); the next batch is claimed as soon as no more than
   * one batch is left queued, so the slots do not idle on a claim (25–90 ms under load) or at a batch boundary. A claimed delivery is always sent (its
   * lease would only delay it). Successes, the common case, are written WRITE_BATCH at a time in one statement,
   * behind the sending: the commits, not the HTTP, bounded throughput when each success was two commits. A crash
   * before such a write re-sends those deliveries after their lease (at-least-once; receivers dedupe by webhook-id).
   */
  async deliverDue(o: { batch?: number; maxMs?: number } = {}): Promise<DeliveryRunResult> {
    const batch = o.batch ?? BATCH;
    const deadline = Date.now() + (o.maxMs ?? RUN_BUDGET_MS);
    const result: DeliveryRunResult = { delivered: 0, retried: 0, dead: 0 };
    let failure: unknown;
    const fail = (err: unknown) => void (failure ??= err);

    const queue: repo.ClaimedDelivery[] = [];
    let head = 0;
    // The last claim was full and the budget lasts: more may be due.
    let more = true;
    let claiming: Promise<void> | undefined;
    const claim = (): Promise<void> =>
      (claiming ??= repo
        .claimDue(this.db, batch, LEASE_SECONDS)
        .then((rows) => {
          queue.splice(0, head);
          head = 0;
          for (const row of rows) queue.push(row);
          more = rows.length === batch && Date.now() < deadline;
        }, fail)
        .finally(() => (claiming = undefined)));
    const next = async (): Promise<repo.ClaimedDelivery | undefined> => {
      for (;;) {
        if (failure !== undefined) return undefined;
        if (more && queue.length - head <= batch) void claim();
        if (head < queue.length) return queue[head++];
        if (!claiming) return undefined;
        await claiming;
      }
    };

    let done: repo.DeliveredAttempt[] = [];
    let writes = Promise.resolve();
    const flush = () => {
      const rows = done;
      done = [];
      writes = writes.then(() => repo.markDeliveredMany(this.db, rows)).catch(fail);
    };
    const slot = async () => {
      for (let d = await next(); d; d = await next()) {
        const outcome = await this.attempt(d);
        if (typeof outcome === 'string') {
          result[outcome]++;
          continue;
        }
        result.delivered++;
        done.push(outcome);
        if (done.length >= WRITE_BATCH) flush();
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, () => slot().catch(fail)));
    if (done.length) flush();
    await writes;
    if (failure !== undefined) throw failure;
    this.metrics?.webhookQueueAgeSeconds.set(await repo.queueAgeSeconds(this.db));
    return result;
  }

  /** One signed POST of a body, under every secret currently signing; never throws for a receiver's failure. */
  private async send(url: string, secrets: string[], id: string, body: string): Promise<SendResult> {
    const headers = signedHeaders(secrets, id, Math.floor(Date.now() / 1000), body);
    const started = performance.now();
    try {
      const res = await post(new URL(url), headers, body, { timeoutMs: ATTEMPT_TIMEOUT_MS, maxResponseBytes: MAX_RESPONSE_BYTES, allowPrivate: this.allowPrivate });
      return { httpStatus: res.status, response: res.body, error: `HTTP ${res.status}` };
    } catch (err) {
      return { httpStatus: null, response: null, error: err instanceof PrivateAddressError ? err.message : `${(err as NodeJS.ErrnoException).code ?? 'ERROR'}: ${(err as Error).message}` };
    } finally {
      this.metrics?.webhookAttemptSeconds.observe((performance.now() - started) / 1000);
    }
  }

  /** Failures are recorded here; a success is returned for sendBatch to record with others. */
  private async attempt(d: repo.ClaimedDelivery): Promise<repo.DeliveredAttempt | 'retried' | 'dead'> {
    const secrets = d.previous_secret ? [d.secret, d.previous_secret] : [d.secret];
    const { httpStatus, response, error } = await this.send(d.url, secrets, d.event_id, d.body);

    if (httpStatus !== null && httpStatus >= 200 && httpStatus < 300) {
      this.metrics?.webhookDeliveries.inc({ status: 'delivered' });
      return { id: d.id, endpointId: d.endpoint_id, httpStatus, response: response ?? '' };
    }
    if (httpStatus === 410) {
      // The receiver says the endpoint is gone for good: stop sending there at all.
      await repo.markFailed(this.db, d.id, { status: 'dead', httpStatus, error, response, retryInSeconds: 0 });
      await this.disableQuietly(d.endpoint_id, 'receiver answered 410 Gone');
      this.metrics?.webhookDeliveries.inc({ status: 'dead' });
      return 'dead';
    }
    const delay = retryDelay(d.attempts);
    await repo.markFailed(this.db, d.id, { status: delay === undefined ? 'dead' : 'pending', httpStatus, error, response, retryInSeconds: delay ?? 0 });
    const failingSince = await repo.noteEndpointFailure(this.db, d.endpoint_id);
    // Disabling kills this delivery too (it was still pending).
    const disabled = !!failingSince && Date.now() - failingSince.getTime() >= DISABLE_AFTER_FAILING_MS;
    if (disabled) await this.disableQuietly(d.endpoint_id, `every attempt failed since ${failingSince.toISOString()}`);
    const outcome = delay === undefined || disabled ? 'dead' : 'retried';
    this.log?.info({ delivery: String(d.id), endpoint: String(d.endpoint_id), attempts: d.attempts, error, retryIn: outcome === 'dead' ? null : delay }, 'webhook attempt failed');
    this.metrics?.webhookDeliveries.inc({ status: outcome === 'dead' ? 'dead' : 'retry' });
    return outcome;
  }

  /** The bot's own disable (410, failing for days): once, with the owner told by DM after the commit. */
  private async disableQuietly(endpointId: bigint, reason: string) {
    const disabled = await this.db.transaction().execute(async (trx) => {
      const e = await repo.disableEndpoint(trx, endpointId, reason);
      if (e) await repo.killPendingOf(trx, endpointId, reason);
      return e;
    });
    if (!disabled) return;
    this.log?.warn({ endpoint: String(endpointId), reason }, 'webhook endpoint disabled');
    const discordId = await repo.ownerDiscordId(this.db, endpointId);
    if (discordId && this.notify) await this.notify({ discordId, endpointId, url: disabled.url, reason });
  }

  // ------------------------------------------------------------ rotation, replay (operators and owners)

  /**
   * A new secret, returned once. The old one keeps signing for `overlapSeconds` (default 24 h, 0 = stop now) so the
   * receiver can switch at its own pace: meanwhile each delivery carries one signature per secret.
   */
  async rotateSecret(id: bigint, o: { overlapSeconds?: number; audit?: AuditActor } = {}): Promise<{ endpoint: EndpointView; secret: string }> {
    const overlap = o.overlapSeconds ?? DEFAULT_ROTATION_OVERLAP_SECONDS;
    if (!Number.isInteger(overlap) || overlap < 0 || overlap > MAX_ROTATION_OVERLAP_SECONDS)
      throw new UserError('ROTATION_OVERLAP_INVALID', `The overlap must be a whole number of seconds from 0 to ${MAX_ROTATION_OVERLAP_SECONDS} (7 days).`);
    const secret = newSecret();
    return this.db.transaction().execute(async (trx) => {
      const e = await repo.rotateSecret(trx, id, secret, overlap);
      if (!e) throw await this.missingOrDisabled(trx, id);
      if (o.audit)
        await writeAudit(trx, { actor: o.audit, guildId: null, action: 'webhook.rotate_secret', target: `webhook_endpoint:${id}`, after: { previousSecretExpiresAt: e.previous_secret_expires_at } });
      return { endpoint: view(e), secret };
    });
  }

  /**
   * Sends the events of [from, to) again (to one endpoint or all active ones) with their original ids, so receivers
   * that already have them drop the copies. Delivered and dead deliveries are due now; pending ones already are queued.
   */
  async replay(o: { endpointId?: bigint; from: Date; to: Date; audit?: AuditActor }): Promise<{ replayed: number; alreadyPending: number }> {
    if (!(o.from.getTime() < o.to.getTime())) throw new UserError('REPLAY_RANGE_INVALID', '`from` must be before `to`.');
    if (o.to.getTime() - o.from.getTime() > MAX_REPLAY_RANGE_MS) throw new UserError('REPLAY_RANGE_INVALID', 'A replay covers at most 31 days; split the range.');
    return this.db.transaction().execute(async (trx) => {
      if (o.endpointId !== undefined) {
        const e = await repo.findEndpoint(trx, o.endpointId);
        if (!e?.active) throw await this.missingOrDisabled(trx, o.endpointId);
      }
      const r = await repo.replayDeliveries(trx, { from: o.from, to: o.to, ...(o.endpointId !== undefined ? { endpointId: o.endpointId } : {}) });
      if (o.audit)
        await writeAudit(trx, {
          actor: o.audit,
          guildId: null,
          action: 'webhook.replay',
          target: o.endpointId !== undefined ? `webhook_endpoint:${o.endpointId}` : 'webhook_endpoint:*',
          after: { from: o.from.toISOString(), to: o.to.toISOString(), replayed: r.replayed },
        });
      return { replayed: r.replayed, alreadyPending: r.pending };
    });
  }

  private async missingOrDisabled(db: Kysely<DB>, id: bigint): Promise<UserError> {
    return (await repo.findEndpoint(db, id))
      ? new UserError('ENDPOINT_DISABLED', `Webhook endpoint ${id} is disabled.`)
      : new UserError('ENDPOINT_NOT_FOUND', `No webhook endpoint ${id}.`);
  }

  // ------------------------------------------------------------ the owner's own endpoints (/api webhook)

  async addForMember(member: Member, o: { client: string; environment: Environment; url: string; eventTypes: string[] }) {
    const user = await users.findByDiscordId(this.db, member.discordId);
    const env = user ? await repo.ownedEnvironment(this.db, user.id, o.client.trim(), o.environment) : undefined;
    if (!env) throw new UserError('ENVIRONMENT_NOT_FOUND', `You have no API client "${o.client.trim()}" with a ${o.environment} environment. \`/api client list\` shows yours.`);
    return this.createEndpoint({ environmentId: env.id, url: o.url, eventTypes: o.eventTypes });
  }

  async listForMember(member: Member): Promise<Array<EndpointView & { clientName: string; environment: Environment }>> {
    const user = await users.findByDiscordId(this.db, member.discordId);
    if (!user) return [];
    return (await repo.endpointsOfOwner(this.db, user.id, LIST_LIMIT)).map((e) => ({ ...view(e), clientName: e.client_name, environment: e.environment }));
  }

  async removeForMember(member: Member, id: bigint): Promise<EndpointView> {
    await this.owned(member, id);
    return this.disableEndpoint(id, { reason: 'removed by its owner' });
  }

  async rotateForMember(member: Member, id: bigint, overlapSeconds?: number) {
    await this.owned(member, id);
    return this.rotateSecret(id, overlapSeconds === undefined ? {} : { overlapSeconds });
  }

  /** Sends a signed `webhook.ping` now and reports what the receiver said; queues nothing, changes nothing. */
  async testForMember(member: Member, id: bigint): Promise<PingResult> {
    const e = await this.owned(member, id);
    if (!e.active) throw new UserError('ENDPOINT_DISABLED', `Webhook endpoint ${id} is disabled; add a new one.`);
    const secrets = e.previous_secret && e.previous_secret_expires_at && e.previous_secret_expires_at > new Date() ? [e.secret, e.previous_secret] : [e.secret];
    const eventId = 'msg_' + randomUUID().replaceAll('-', '');
    const started = performance.now();
    const body = JSON.stringify({ type: PING_EVENT, timestamp: new Date().toISOString(), data: { endpointId: String(e.id), message: 'Test event from /api webhook test.' } });
    const r = await this.send(e.url, secrets, eventId, body);
    const ok = r.httpStatus !== null && r.httpStatus >= 200 && r.httpStatus < 300;
    return { eventId, httpStatus: r.httpStatus, error: ok ? null : r.error, ms: Math.round(performance.now() - started) };
  }

  private async owned(member: Member, id: bigint) {
    const user = await users.findByDiscordId(this.db, member.discordId);
    const e = await repo.findEndpoint(this.db, id);
    if (!user || !e || e.owner_user_id !== user.id) throw new UserError('ENDPOINT_NOT_FOUND', `You have no webhook endpoint ${id}. \`/api webhook list\` shows yours.`);
    return e;
  }

  /** Valid absolute http(s) URL, HTTPS for production environments, and not pointing into our network. */
  private async checkUrl(raw: string, production: boolean): Promise<URL> {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new UserError('WEBHOOK_URL_INVALID', `"${raw.slice(0, 100)}" is not an absolute URL.`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new UserError('WEBHOOK_URL_INVALID', 'A webhook URL must use http or https.');
    if (production && url.protocol !== 'https:') throw new UserError('WEBHOOK_URL_INVALID', 'A production environment webhook URL must use https.');
    if (url.username || url.password) throw new UserError('WEBHOOK_URL_INVALID', 'A webhook URL must not carry credentials; verify the signature instead.');
    if (url.hash) throw new UserError('WEBHOOK_URL_INVALID', 'A webhook URL must not have a #fragment.');
    if (url.href.length > 2048) throw new UserError('WEBHOOK_URL_INVALID', 'A webhook URL can be at most 2048 characters.');
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (!this.allowPrivate) {
      if (isIP(host) && isPrivateAddress(host)) throw new UserError('WEBHOOK_URL_PRIVATE', `${host} is a loopback, private, link-local or metadata address.`);
      try {
        await checkHost(host, false);
      } catch (err) {
        if (err instanceof PrivateAddressError) throw new UserError('WEBHOOK_URL_PRIVATE', err.message + '.');
        throw new UserError('WEBHOOK_URL_INVALID', `${host} does not resolve.`);
      }
    }
    return url;
  }
}

function checkEventTypes(types: string[]): string[] {
  const unique = [...new Set(types)];
  if (!unique.length) throw new UserError('WEBHOOK_EVENT_UNKNOWN', `Choose at least one event type: ${EVENT_TYPES.join(', ')}.`);
  const unknown = unique.filter((t) => !(EVENT_TYPES as readonly string[]).includes(t));
  if (unknown.length) throw new UserError('WEBHOOK_EVENT_UNKNOWN', `Unknown event type ${unknown.map((t) => `"${t}"`).join(', ')}; known: ${EVENT_TYPES.join(', ')}.`);
  return unique.sort();
}
