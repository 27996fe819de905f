import type { Kysely } from 'kysely';
import type { Config } from '../../config';
import type { DB } from '../../db/schema';
import { UserError } from '../../errors';
import type { Logger } from '../../logger';
import type { Metrics } from '../../metrics';
import { post } from './webhook-http';
import * as repo from './webhooks.repository';
import { newSecret, signedHeaders } from './webhooks.signing';
import { checkHost, isPrivateAddress, PrivateAddressError } from './ssrf-guard';
import type { DeliveryStatus } from './webhooks.tables';
import { isIP } from 'node:net';

/** The events the outbox triggers emit today (migrations 2026_11_28_160000 and 170000); other names are refused. */
export const EVENT_TYPES = [
  'tip.received',
  'wallet.linked',
  // Memberships (triggers in migration 2026_11_28_170000_billing).
  'invoice.paid',
  'subscription.activated',
  'subscription.renewed',
  'subscription.expired',
  'subscription.canceled',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

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
/** How long a claimed delivery is hidden from other runners while its attempt runs (longer than the timeout). */
const LEASE_SECONDS = 60;
const BATCH = 50;
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
  createdAt: Date;
}

const view = (e: Awaited<ReturnType<typeof repo.insertEndpoint>>): EndpointView => ({
  id: e.id,
  environmentId: e.environment_id,
  url: e.url,
  eventTypes: e.event_types,
  active: e.active,
  disabledReason: e.disabled_reason,
  createdAt: e.created_at,
});

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
  async disableEndpoint(id: bigint, reason = 'disabled by an operator'): Promise<EndpointView> {
    return this.db.transaction().execute(async (trx) => {
      const e = await repo.disableEndpoint(trx, id, reason);
      if (!e) {
        if (await repo.findEndpoint(trx, id)) throw new UserError('ENDPOINT_DISABLED', `Webhook endpoint ${id} is already disabled.`);
        throw new UserError('ENDPOINT_NOT_FOUND', `No webhook endpoint ${id}.`);
      }
      await repo.killPendingOf(trx, id, reason);
      return view(e);
    });
  }

  listDeliveries(o: { endpointId?: bigint; status?: DeliveryStatus; limit: number; beforeId?: bigint }) {
    return repo.listDeliveries(this.db, o);
  }

  /** Operator retry: the delivery is due now with a fresh schedule (its event keeps its id, so receivers can dedupe). */
  async retryDelivery(id: bigint) {
    return this.db.transaction().execute(async (trx) => {
      const d = await repo.retryDelivery(trx, id);
      if (!d) throw new UserError('DELIVERY_NOT_FOUND', `No webhook delivery ${id}.`);
      const e = await repo.findEndpoint(trx, d.endpoint_id);
      if (!e?.active) throw new UserError('ENDPOINT_DISABLED', `Webhook endpoint ${d.endpoint_id} is disabled; nothing would be sent.`);
      return d;
    });
  }

  /** One run of the delivery job: a batch of due deliveries, sent in parallel. */
  async deliverDue(limit = BATCH): Promise<DeliveryRunResult> {
    const claimed = await repo.claimDue(this.db, limit, LEASE_SECONDS);
    const result: DeliveryRunResult = { delivered: 0, retried: 0, dead: 0 };
    for (let i = 0; i < claimed.length; i += PARALLEL) {
      const outcomes = await Promise.all(claimed.slice(i, i + PARALLEL).map((d) => this.attempt(d)));
      for (const o of outcomes) result[o]++;
    }
    this.metrics?.webhookQueueAgeSeconds.set(await repo.queueAgeSeconds(this.db));
    return result;
  }

  private async attempt(d: repo.ClaimedDelivery): Promise<keyof DeliveryRunResult> {
    const body = JSON.stringify({ type: d.type, timestamp: d.event_created_at.toISOString(), data: d.payload });
    const headers = signedHeaders(d.secret, d.event_id, Math.floor(Date.now() / 1000), body);
    const started = performance.now();
    let httpStatus: number | null = null;
    let response: string | null = null;
    let error: string;
    try {
      const res = await post(new URL(d.url), headers, body, { timeoutMs: ATTEMPT_TIMEOUT_MS, maxResponseBytes: MAX_RESPONSE_BYTES, allowPrivate: this.allowPrivate });
      httpStatus = res.status;
      response = res.body;
      error = `HTTP ${res.status}`;
    } catch (err) {
      error = err instanceof PrivateAddressError ? err.message : `${(err as NodeJS.ErrnoException).code ?? 'ERROR'}: ${(err as Error).message}`;
    } finally {
      this.metrics?.webhookAttemptSeconds.observe((performance.now() - started) / 1000);
    }

    if (httpStatus !== null && httpStatus >= 200 && httpStatus < 300) {
      await repo.markDelivered(this.db, d.id, httpStatus, response ?? '');
      await repo.noteEndpointSuccess(this.db, d.endpoint_id);
      this.metrics?.webhookDeliveries.inc({ status: 'delivered' });
      return 'delivered';
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

  private async disableQuietly(endpointId: bigint, reason: string) {
    await this.db.transaction().execute(async (trx) => {
      if (await repo.disableEndpoint(trx, endpointId, reason)) await repo.killPendingOf(trx, endpointId, reason);
    });
    this.log?.warn({ endpoint: String(endpointId), reason }, 'webhook endpoint disabled');
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
