import type { Kysely } from 'kysely';
import type { Config } from '../../config';
import type { DB } from '../../db/schema';
import { UserError } from '../../errors';
import type { Logger } from '../../logger';
import * as users from '../users/users.accounts';
import { QuotaMeter, type CheckResult, type MeterState } from './quota.meter';
import * as repo from './quota.repository';
import { ENVIRONMENTS, type Environment } from './quota.tables';
import { CLIENT_TOKEN, hashToken, hintOf, newClientToken, newReporterToken, REPORTER_TOKEN } from './quota.tokens';

export interface Member {
  discordId: string;
  username: string;
}

/** Who a client token belongs to, as every /api/v1 handler sees it. */
export interface ApiCaller {
  environmentId: bigint;
  environment: Environment;
  clientId: bigint;
  clientName: string;
  allowedOrigins: string[];
  userId: bigint;
  discordId: string;
  username: string;
}

/** Why a token was refused; every reason is a 401 with WWW-Authenticate (the route adapter adds the header). */
export class AuthFailure extends UserError {
  constructor(message: string) {
    super('INVALID_TOKEN', message);
  }
}

/** Over an allowance (monthly quota or the per-token burst limit); carries what the 429 headers need. */
export class QuotaExceeded extends UserError {
  constructor(
    code: 'QUOTA_EXCEEDED' | 'BURST_LIMITED',
    message: string,
    readonly retryAfterSeconds: number,
    readonly check?: CheckResult,
  ) {
    super(code, message);
  }
}

/** Badge tier and score for the API; the badges module provides it once it exists. */
export interface ReputationReader {
  reputation(discordId: string): Promise<{ tier: string; score: number } | undefined>;
}

const MAX_CLIENTS_PER_MEMBER = 10;
const TOKEN_CACHE_MS = 5_000;
const TOKEN_CACHE_MAX = 10_000;
const ROLLOVER_BATCH = 1000;
const METHOD = /^[A-Za-z0-9][\w.:-]{0,63}$/;

const clientName = (name: string) => {
  const n = name.trim();
  if (!/^[\w .-]{1,64}$/u.test(n)) throw new UserError('INVALID_CLIENT_NAME', 'Client names are 1-64 letters, digits, spaces, dots, dashes or underscores.');
  return n;
};

function origins(list: string[]): string[] {
  return list.map((o) => {
    let url: URL;
    try {
      url = new URL(o);
    } catch {
      throw new UserError('INVALID_ORIGIN', `${o} is not an origin (e.g. https://shop.example).`);
    }
    if (!/^https?:$/.test(url.protocol) || url.origin !== o.replace(/\/$/, '')) {
      throw new UserError('INVALID_ORIGIN', `${o} is not an origin (scheme://host[:port], no path).`);
    }
    return url.origin;
  });
}

function contacts(list: string[]): string[] {
  for (const c of list) if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(c)) throw new UserError('INVALID_CONTACT', `${c} is not an e-mail address.`);
  return list;
}

export const addMonths = (d: Date, n: number) => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + n, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()));

/**
 * API clients and their tokens, reporters, packages and vouchers, and metering (see quota.meter.ts and README.md).
 * Counting happens in memory per process; `stop()` flushes it.
 */
export class QuotaService {
  readonly meter: QuotaMeter;
  private readonly tokens = new Map<string, { caller: ApiCaller | undefined; reason: string; until: number }>();
  private readonly buckets = new Map<bigint, { tokens: number; at: number }>();

  constructor(
    private readonly db: Kysely<DB>,
    private readonly config: Pick<Config, 'API_ENVIRONMENT' | 'API_FREE_REQUESTS_PER_MONTH' | 'API_BURST_PER_SECOND' | 'API_FLUSH_MS'>,
    private readonly log?: Logger,
    readonly reputation: ReputationReader = { reputation: async () => undefined },
  ) {
    this.meter = new QuotaMeter(db, (userId) => this.meterState(userId), { flushMs: config.API_FLUSH_MS, idleMs: 60_000 }, log);
  }

  stop(): Promise<void> {
    return this.meter.stop();
  }

  // ------------------------------------------------------------ clients (members)

  async createClient(owner: Member, o: { name: string; environment?: Environment; allowedOrigins?: string[]; contacts?: string[] }) {
    const name = clientName(o.name);
    const allowed = origins(o.allowedOrigins ?? []);
    const contactList = contacts(o.contacts ?? []);
    const environment = o.environment ?? 'prod';
    const user = await users.upsertByDiscordId(this.db, owner.discordId, owner.username);
    return this.db.transaction().execute(async (trx) => {
      const existing = await repo.listClients(trx, { ownerUserId: user.id, limit: MAX_CLIENTS_PER_MEMBER });
      if (existing.length >= MAX_CLIENTS_PER_MEMBER) throw new UserError('TOO_MANY_CLIENTS', `You can have at most ${MAX_CLIENTS_PER_MEMBER} API clients; revoke one first.`);
      const client = await repo.insertClient(trx, { ownerUserId: user.id, name, contacts: contactList, allowedOrigins: allowed });
      if (!client) throw new UserError('CLIENT_NAME_TAKEN', `You already have a client named "${name}".`);
      await repo.ensureAccount(trx, user.id, new Date());
      const token = newClientToken(environment);
      await repo.putEnvironmentToken(trx, client.id, environment, hashToken(token), hintOf(token));
      return { client, environment, token };
    });
  }

  async listClients(owner: Member) {
    const user = await users.findByDiscordId(this.db, owner.discordId);
    return user ? repo.listClients(this.db, { ownerUserId: user.id, limit: MAX_CLIENTS_PER_MEMBER }) : [];
  }

  /** A new token for the environment (creating the environment if the client has none yet); the old one stops working. */
  async rotate(owner: Member, name: string, environment: Environment) {
    const client = await this.ownClient(owner, name);
    const token = newClientToken(environment);
    const env = await repo.putEnvironmentToken(this.db, client.id, environment, hashToken(token), hintOf(token));
    this.forgetTokens();
    return { client, environment: env, token };
  }

  async revoke(owner: Member, name: string, environment: Environment) {
    const client = await this.ownClient(owner, name);
    const env = await repo.revokeEnvironment(this.db, client.id, environment);
    if (!env) throw new UserError('ENVIRONMENT_NOT_FOUND', `"${client.name}" has no active ${environment} token.`);
    this.forgetTokens();
    return { client, environment: env };
  }

  private async ownClient(owner: Member, name: string) {
    const user = await users.findByDiscordId(this.db, owner.discordId);
    const client = user ? await repo.findClientByName(this.db, user.id, name.trim()) : undefined;
    if (!client) throw new UserError('CLIENT_NOT_FOUND', `You have no API client named "${name}". \`/api client list\` shows yours.`);
    return client;
  }

  // ------------------------------------------------------------ clients (operators)

  adminListClients(o: { limit: number; beforeId?: bigint; ownerDiscordId?: string }) {
    return (async () => {
      let ownerUserId: bigint | undefined;
      if (o.ownerDiscordId) {
        const user = await users.findByDiscordId(this.db, o.ownerDiscordId);
        if (!user) return [];
        ownerUserId = user.id;
      }
      return repo.listClients(this.db, { limit: o.limit, ...(o.beforeId !== undefined ? { beforeId: o.beforeId } : {}), ...(ownerUserId !== undefined ? { ownerUserId } : {}) });
    })();
  }

  async adminUpdateClient(clientId: bigint, set: { active?: boolean; reporterId?: bigint | null; allowedOrigins?: string[]; contacts?: string[] }) {
    if (set.reporterId) {
      if (!(await repo.findReporter(this.db, set.reporterId))) throw new UserError('REPORTER_NOT_FOUND', `No reporter ${set.reporterId}.`);
    }
    const updated = await repo.updateClient(this.db, clientId, {
      ...set,
      ...(set.allowedOrigins ? { allowedOrigins: origins(set.allowedOrigins) } : {}),
      ...(set.contacts ? { contacts: contacts(set.contacts) } : {}),
    });
    if (!updated) throw new UserError('CLIENT_NOT_FOUND', `No API client ${clientId}.`);
    this.forgetTokens();
    return updated;
  }

  // ------------------------------------------------------------ authentication

  /**
   * The caller behind `Authorization: Bearer <token>`. Lookups are cached for a few seconds per process; rotation,
   * revocation and deactivation made in this process take effect at once, elsewhere within TOKEN_CACHE_MS.
   */
  async authenticate(header: string | undefined): Promise<ApiCaller> {
    if (!header) throw new AuthFailure('Send the client token as `Authorization: Bearer sb_…`.');
    const token = /^Bearer (\S+)$/.exec(header)?.[1];
    if (!token) throw new AuthFailure('The Authorization header must be `Bearer <token>`.');
    if (REPORTER_TOKEN.test(token)) throw new AuthFailure('This is a reporter token; it can only send usage reports.');
    if (!CLIENT_TOKEN.test(token)) throw new AuthFailure('Malformed token: client tokens look like sb_live_… or sb_test_… (40 characters).');
    const hash = hashToken(token);
    const now = Date.now();
    let cached = this.tokens.get(hash);
    if (!cached || cached.until < now) {
      cached = { ...(await this.lookup(hash)), until: now + TOKEN_CACHE_MS };
      if (this.tokens.size >= TOKEN_CACHE_MAX) this.tokens.clear();
      this.tokens.set(hash, cached);
    }
    if (!cached.caller) throw new AuthFailure(cached.reason);
    return cached.caller;
  }

  private async lookup(hash: string): Promise<{ caller: ApiCaller | undefined; reason: string }> {
    const row = await repo.findByTokenHash(this.db, hash);
    if (!row) return { caller: undefined, reason: 'Unknown token (it may have been rotated).' };
    if (!row.environment_active) return { caller: undefined, reason: 'This token was revoked.' };
    if (!row.client_active) return { caller: undefined, reason: 'This API client is deactivated.' };
    if (row.environment !== this.config.API_ENVIRONMENT) {
      return { caller: undefined, reason: `This is a ${row.environment} token; this server is the ${this.config.API_ENVIRONMENT} environment.` };
    }
    return {
      reason: '',
      caller: {
        environmentId: row.environment_id,
        environment: row.environment,
        clientId: row.client_id,
        clientName: row.client_name,
        allowedOrigins: row.allowed_origins,
        userId: row.user_id,
        discordId: row.discord_id,
        username: row.username,
      },
    };
  }

  private forgetTokens() {
    this.tokens.clear();
  }

  async authenticateReporter(header: string | undefined): Promise<{ reporterId: bigint; name: string }> {
    const token = header ? /^Bearer (\S+)$/.exec(header)?.[1] : undefined;
    if (!token) throw new AuthFailure('Send the reporter token as `Authorization: Bearer sb_rep_…`.');
    if (CLIENT_TOKEN.test(token)) throw new AuthFailure('This is a client token; usage reports take a reporter token (sb_rep_…).');
    if (!REPORTER_TOKEN.test(token)) throw new AuthFailure('Malformed reporter token: reporter tokens look like sb_rep_… (39 characters).');
    const row = await repo.findReporterByTokenHash(this.db, hashToken(token));
    if (!row) throw new AuthFailure('Unknown reporter token.');
    if (row.invalidated_at || !row.active) throw new AuthFailure('This reporter token was revoked.');
    return { reporterId: row.reporter_id, name: row.name };
  }

  // ------------------------------------------------------------ metering

  /** Per-token burst limit (token bucket, per process): API_BURST_PER_SECOND requests, refilled continuously. */
  takeBurst(environmentId: bigint): void {
    const rate = this.config.API_BURST_PER_SECOND;
    const now = Date.now();
    const b = this.buckets.get(environmentId) ?? { tokens: rate, at: now };
    b.tokens = Math.min(rate, b.tokens + ((now - b.at) / 1000) * rate);
    b.at = now;
    this.buckets.set(environmentId, b);
    if (b.tokens < 1) throw new QuotaExceeded('BURST_LIMITED', `More than ${rate} requests per second with this token; slow down.`, 1);
    b.tokens -= 1;
  }

  /** Counts one request of `method` against the member's allowance, or throws QuotaExceeded (nothing counted). */
  async meterRequest(caller: ApiCaller, method: string): Promise<CheckResult> {
    const result = await this.meter.consume(caller.userId, caller.environmentId, method);
    if (!result.allowed) {
      const retry = Math.max(1, Math.ceil((result.periodEnd.getTime() - Date.now()) / 1000));
      throw new QuotaExceeded('QUOTA_EXCEEDED', `Monthly quota for ${method} used up (${result.limit} requests); it renews ${result.periodEnd.toISOString()}. Redeem a voucher or ask for a package.`, retry, result);
    }
    return result;
  }

  private async meterState(userId: bigint): Promise<MeterState> {
    const now = new Date();
    const account = await repo.ensureAccount(this.db, userId, now);
    const bundles = await repo.activeBundles(this.db, userId, now);
    let general = BigInt(this.config.API_FREE_REQUESTS_PER_MONTH);
    const perMethod = new Map<string, bigint>();
    for (const b of bundles) {
      if (b.method) perMethod.set(b.method, (perMethod.get(b.method) ?? 0n) + b.requests);
      else general += b.requests;
    }
    return { periodStart: account.period_start, periodEnd: addMonths(account.period_start, 1), allowance: { general, perMethod } };
  }

  /** The member's period, allowances and usage (flushed counts plus this process's unflushed ones). */
  async status(member: Pick<Member, 'discordId'>) {
    const user = await users.findByDiscordId(this.db, member.discordId);
    if (!user) return undefined;
    await this.meter.flush();
    const state = await this.meterState(user.id);
    const used = await repo.usageByMethod(this.db, user.id, state.periodStart);
    const rows = await repo.usageRows(this.db, user.id, state.periodStart);
    const history = await repo.periodHistory(this.db, user.id, 6);
    let total = 0n;
    for (const n of used.values()) total += n;
    let allowanceTotal = state.allowance.general;
    for (const n of state.allowance.perMethod.values()) allowanceTotal += n;
    return { ...state, used, total, allowanceTotal, rows, history };
  }

  // ------------------------------------------------------------ usage reports

  async report(reporterId: bigint, r: { reportId: string; environmentId: bigint; method: string; segments: bigint }) {
    if (!METHOD.test(r.method)) throw new UserError('INVALID_METHOD', 'method: 1-64 characters (letters, digits, _ . : -) starting with a letter or digit.');
    if (r.segments <= 0n) throw new UserError('INVALID_SEGMENTS', 'segments must be a positive integer.');
    const env = await repo.findEnvironment(this.db, r.environmentId);
    if (!env) throw new UserError('ENVIRONMENT_NOT_FOUND', `No client environment ${r.environmentId}.`);
    if (env.reporter_id !== reporterId) throw new UserError('REPORT_FORBIDDEN', `Client environment ${r.environmentId} is not metered by this reporter.`);
    const account = await repo.ensureAccount(this.db, env.owner_user_id, new Date());
    const result = await this.db.transaction().execute((trx) =>
      repo.insertReport(trx, { reporterId, ...r, userId: env.owner_user_id, periodStart: account.period_start }),
    );
    if (result.replayed) {
      const f = result.first;
      if (f.environment_id !== r.environmentId || f.method !== r.method || f.segments !== r.segments) {
        throw new UserError('REPORT_ID_REUSED', `Report ${r.reportId} was already sent with other contents.`);
      }
    }
    // This process's view of the member picks the report up at once; others within a flush interval.
    await this.meter.invalidate(env.owner_user_id);
    return { replayed: result.replayed, periodStart: result.replayed ? result.first.period_start : account.period_start };
  }

  // ------------------------------------------------------------ packages, vouchers, reporters (operators)

  async createReporter(name: string) {
    const n = name.trim();
    if (!/^[\w .-]{1,64}$/u.test(n)) throw new UserError('INVALID_NAME', 'Reporter names are 1-64 letters, digits, spaces, dots, dashes or underscores.');
    return this.db.transaction().execute(async (trx) => {
      const reporter = await repo.insertReporter(trx, n);
      if (!reporter) throw new UserError('NAME_TAKEN', `A reporter named "${n}" exists.`);
      const token = newReporterToken();
      await repo.insertReporterToken(trx, reporter.id, hashToken(token));
      return { reporter, token };
    });
  }

  async createBundle(b: { name: string; requests: bigint; method?: string | null }) {
    if (b.method && !METHOD.test(b.method)) throw new UserError('INVALID_METHOD', 'method: 1-64 characters (letters, digits, _ . : -) starting with a letter or digit.');
    if (b.requests <= 0n) throw new UserError('INVALID_REQUESTS', 'requests must be positive.');
    const row = await repo.insertBundle(this.db, { name: b.name.trim(), requests: b.requests, method: b.method ?? null });
    if (!row) throw new UserError('NAME_TAKEN', `A bundle named "${b.name}" exists.`);
    return row;
  }

  async createPackage(p: { name: string; bundles: Array<{ bundleId: bigint; validFrom?: Date; validUntil?: Date }> }) {
    if (p.bundles.length === 0) throw new UserError('INVALID_PACKAGE', 'A package needs at least one bundle.');
    for (const b of p.bundles) {
      if (b.validFrom && b.validUntil && b.validFrom >= b.validUntil) throw new UserError('INVALID_WINDOW', 'validFrom must be before validUntil.');
    }
    const ids = [...new Set(p.bundles.map((b) => b.bundleId))];
    if (ids.length !== p.bundles.length) throw new UserError('INVALID_PACKAGE', 'A bundle is listed twice.');
    const found = await repo.findBundles(this.db, ids);
    const missing = ids.find((id) => !found.some((f) => f.id === id));
    if (missing !== undefined) throw new UserError('BUNDLE_NOT_FOUND', `No bundle ${missing}.`);
    const pkg = await this.db.transaction().execute((trx) => repo.insertPackage(trx, p.name.trim(), p.bundles));
    if (!pkg) throw new UserError('NAME_TAKEN', `A package named "${p.name}" exists.`);
    return pkg;
  }

  async grantPackage(g: { discordId: string; packageId: bigint; validUntil?: Date; actorRef: string }) {
    const user = await users.findByDiscordId(this.db, g.discordId);
    if (!user) throw new UserError('USER_NOT_FOUND', `No member ${g.discordId}.`);
    if (!(await repo.findPackage(this.db, g.packageId))) throw new UserError('PACKAGE_NOT_FOUND', `No package ${g.packageId}.`);
    if (g.validUntil && g.validUntil <= new Date()) throw new UserError('INVALID_WINDOW', 'validUntil is in the past.');
    const row = await repo.insertUserPackage(this.db, {
      userId: user.id,
      packageId: g.packageId,
      source: 'admin',
      sourceRef: g.actorRef,
      ...(g.validUntil ? { validUntil: g.validUntil } : {}),
    });
    await this.meter.invalidate(user.id);
    return row;
  }

  async createVoucher(v: { code: string; packageId: bigint; uses: number; validUntil: Date }) {
    const code = v.code.trim().toUpperCase();
    if (!/^[A-Z0-9-]{4,40}$/.test(code)) throw new UserError('INVALID_CODE', 'Voucher codes are 4-40 letters, digits or dashes.');
    if (v.uses < 1) throw new UserError('INVALID_USES', 'uses must be at least 1.');
    if (v.validUntil <= new Date()) throw new UserError('INVALID_WINDOW', 'validUntil is in the past.');
    if (!(await repo.findPackage(this.db, v.packageId))) throw new UserError('PACKAGE_NOT_FOUND', `No package ${v.packageId}.`);
    const row = await repo.insertVoucher(this.db, { code, packageId: v.packageId, usesLeft: v.uses, validUntil: v.validUntil });
    if (!row) throw new UserError('CODE_TAKEN', `Voucher ${code} exists.`);
    return row;
  }

  /** /redeem: once per member, while uses are left and before valid_until; grants the voucher's package. */
  async redeem(member: Member, rawCode: string) {
    const code = rawCode.trim().toUpperCase();
    if (!/^[A-Z0-9-]{4,40}$/.test(code)) throw new UserError('VOUCHER_UNKNOWN', 'That is not a voucher code.');
    const user = await users.upsertByDiscordId(this.db, member.discordId, member.username);
    const granted = await this.db.transaction().execute(async (trx) => {
      const voucher = await repo.lockVoucher(trx, code);
      if (!voucher) throw new UserError('VOUCHER_UNKNOWN', `No voucher ${code}.`);
      if (voucher.valid_until <= new Date()) throw new UserError('VOUCHER_EXPIRED', `Voucher ${code} expired on ${voucher.valid_until.toISOString().slice(0, 10)}.`);
      if (!(await repo.insertRedemption(trx, user.id, voucher.id))) throw new UserError('VOUCHER_ALREADY_REDEEMED', `You already redeemed ${code}.`);
      if (voucher.uses_left <= 0) throw new UserError('VOUCHER_USED_UP', `Voucher ${code} has no uses left.`);
      await repo.decrementVoucher(trx, voucher.id);
      await repo.ensureAccount(trx, user.id, new Date());
      return repo.insertUserPackage(trx, { userId: user.id, packageId: voucher.package_id, source: 'voucher', sourceRef: code });
    });
    await this.meter.invalidate(user.id);
    return granted;
  }

  // ------------------------------------------------------------ jobs

  /** quota-rollover: closes every period whose month has ended (on the member's anchor day), keeping its totals. */
  async rollover(now = new Date()) {
    await this.meter.flush();
    let closed = 0;
    for (;;) {
      const rows = await repo.rollover(this.db, now, ROLLOVER_BATCH);
      closed += rows.length;
      for (const r of rows) await this.meter.invalidate(r.user_id);
      if (rows.length < ROLLOVER_BATCH) break;
    }
    return { closed };
  }

  /** quota-reconcile: recounts reported usage from the report rows of the last two months and repairs drift. */
  async reconcile(now = new Date()) {
    await this.meter.flush();
    const fixed = await repo.reconcileReported(this.db, addMonths(now, -2));
    if (fixed.length) this.log?.warn({ fixed: fixed.length, sample: fixed.slice(0, 5).map((f) => ({ ...f, was: String(f.was), now: String(f.now) })) }, 'quota usage drifted from reports; repaired');
    return { fixed: fixed.length };
  }

  /** Forgets idempotency keys older than a day (the window in which a client may retry a tip). */
  pruneIdempotencyKeys(now = new Date()) {
    return repo.deleteIdempotencyKeysBefore(this.db, new Date(now.getTime() - 86_400_000));
  }
}

export { ENVIRONMENTS };
