import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema';
import type { Logger } from '../../logger';
import * as repo from './quota.repository';

/**
 * Usage counting off the request path. Each process counts accepted requests in memory and flushes them to
 * PostgreSQL every `flushMs` with one multi-row upsert (`quota_usage.requests += n`), then re-reads each active
 * member's period, allowances and totals (which include other replicas' flushes and usage reports).
 *
 * Crash bound: a process that dies loses the requests it accepted since its last flush — at most `flushMs` worth of
 * its own traffic, and only ever in the member's favour (undercounted, never overcounted).
 *
 * Across replicas the check is conservative: besides the database total and its own unflushed count, a process adds
 * what the *other* replicas added during its last interval (the total's growth minus its own flush), i.e. it assumes
 * the others keep their recent rate until the next refresh. Over-admission then needs another replica to accelerate
 * within one interval, and is bounded by that acceleration × `flushMs`.
 */
export interface Allowance {
  /** Requests per period usable by any method (the free allowance plus bundles without a method). */
  general: bigint;
  /** Requests per period usable only by that method. */
  perMethod: Map<string, bigint>;
}

export interface MeterState {
  periodStart: Date;
  periodEnd: Date;
  allowance: Allowance;
}

export interface CheckResult {
  allowed: boolean;
  /** The allowance that applies to the method (its own pool plus the general one). */
  limit: bigint;
  remaining: bigint;
  periodStart: Date;
  periodEnd: Date;
}

interface Entry {
  userId: bigint;
  state: MeterState;
  /** Database totals per method at the last refresh. */
  used: Map<string, bigint>;
  /** What other replicas added per method during the last interval (expected again before the next refresh). */
  others: Map<string, bigint>;
  /** Accepted here and not yet in `used`. */
  local: Map<string, bigint>;
  /** Accepted here and not yet flushed, per environment and method. */
  pending: Map<string, { environmentId: bigint; method: string; periodStart: Date; n: bigint }>;
  lastUse: number;
}

const add = (m: Map<string, bigint>, k: string, n: bigint) => m.set(k, (m.get(k) ?? 0n) + n);
const max0 = (n: bigint) => (n > 0n ? n : 0n);

export class QuotaMeter {
  private readonly entries = new Map<bigint, Entry>();
  private readonly loading = new Map<bigint, Promise<Entry>>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly db: Kysely<DB>,
    private readonly loadState: (userId: bigint) => Promise<MeterState>,
    private readonly opts: { flushMs: number; idleMs: number },
    private readonly log?: Logger,
  ) {}

  /** Checks the member's allowance for `method` and, when allowed, counts one request for the environment. */
  async consume(userId: bigint, environmentId: bigint, method: string, n = 1n): Promise<CheckResult> {
    const e = this.entries.get(userId) ?? (await this.load(userId));
    e.lastUse = Date.now();
    const before = this.evaluate(e, method);
    if (!before.allowed) return before;
    add(e.local, method, n);
    const key = `${environmentId}|${method}`;
    const p = e.pending.get(key);
    if (p && p.periodStart.getTime() === e.state.periodStart.getTime()) p.n += n;
    else if (p) {
      // The period moved while this was pending: flush the old count under its own period first.
      e.pending.set(`${key}|${p.periodStart.getTime()}`, p);
      e.pending.set(key, { environmentId, method, periodStart: e.state.periodStart, n });
    } else e.pending.set(key, { environmentId, method, periodStart: e.state.periodStart, n });
    this.schedule();
    return { ...before, remaining: max0(before.remaining - n) };
  }

  /** The member's standing for `method` without counting anything. */
  async peek(userId: bigint, method: string): Promise<CheckResult> {
    const e = this.entries.get(userId) ?? (await this.load(userId));
    return this.evaluate(e, method);
  }

  /** Forget the cached state (after a grant or redemption in this process) so the next request re-reads it. */
  async invalidate(userId: bigint): Promise<void> {
    const e = this.entries.get(userId);
    if (!e) return;
    await this.refresh([e]);
  }

  /** Flushes what is pending and refreshes active members; the timer calls it, tests and shutdown call it too. */
  flush(): Promise<void> {
    this.flushing ??= this.doFlush().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  /** Requests accepted in this process and not yet written (what a crash now would lose). */
  get unflushed(): bigint {
    let n = 0n;
    for (const e of this.entries.values()) for (const p of e.pending.values()) n += p.n;
    return n;
  }

  private evaluate(e: Entry, method: string): CheckResult {
    const { allowance } = e.state;
    const estimate = (m: string) => (e.used.get(m) ?? 0n) + (e.others.get(m) ?? 0n) + (e.local.get(m) ?? 0n);
    const methods = new Set([...e.used.keys(), ...e.local.keys(), ...e.others.keys(), method]);
    // Each method spends its own pool first; what exceeds it comes out of the general pool.
    let generalUsed = 0n;
    for (const m of methods) generalUsed += max0(estimate(m) - (allowance.perMethod.get(m) ?? 0n));
    const own = allowance.perMethod.get(method) ?? 0n;
    const ownLeft = max0(own - estimate(method));
    const generalLeft = max0(allowance.general - generalUsed);
    return {
      allowed: ownLeft > 0n || generalLeft > 0n,
      limit: own + allowance.general,
      remaining: ownLeft + generalLeft,
      periodStart: e.state.periodStart,
      periodEnd: e.state.periodEnd,
    };
  }

  private load(userId: bigint): Promise<Entry> {
    let p = this.loading.get(userId);
    if (!p) {
      p = (async () => {
        const state = await this.loadState(userId);
        const used = await repo.usageByMethod(this.db, userId, state.periodStart);
        const e: Entry = { userId, state, used, others: new Map(), local: new Map(), pending: new Map(), lastUse: Date.now() };
        this.entries.set(userId, e);
        return e;
      })().finally(() => this.loading.delete(userId));
      this.loading.set(userId, p);
    }
    return p;
  }

  private schedule() {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush().catch((err: unknown) => this.log?.error({ err }, 'quota flush failed'));
      if (this.entries.size) this.schedule();
    }, this.opts.flushMs);
    this.timer.unref();
  }

  private async doFlush(): Promise<void> {
    const entries = [...this.entries.values()];
    const taken: Array<[Entry, repo.UsageDelta[]]> = [];
    const deltas: repo.UsageDelta[] = [];
    for (const e of entries) {
      if (e.pending.size === 0) continue;
      const mine = [...e.pending.values()].map((p) => ({ userId: e.userId, periodStart: p.periodStart, environmentId: p.environmentId, method: p.method, requests: p.n }));
      e.pending.clear();
      taken.push([e, mine]);
      deltas.push(...mine);
    }
    try {
      await repo.addRequests(this.db, deltas);
    } catch (err) {
      // Put the counts back: they are written by the next flush (or lost with the process: the documented bound).
      for (const [e, mine] of taken) {
        for (const d of mine) {
          const key = `${d.environmentId}|${d.method}`;
          const p = e.pending.get(key);
          if (p && p.periodStart.getTime() === d.periodStart.getTime()) p.n += d.requests;
          else e.pending.set(p ? `${key}|${d.periodStart.getTime()}` : key, { environmentId: d.environmentId, method: d.method, periodStart: d.periodStart, n: d.requests });
        }
      }
      throw err;
    }
    const flushed = new Map<Entry, Map<string, bigint>>();
    for (const [e, mine] of taken) {
      const byMethod = new Map<string, bigint>();
      for (const d of mine) if (d.periodStart.getTime() === e.state.periodStart.getTime()) add(byMethod, d.method, d.requests);
      flushed.set(e, byMethod);
    }
    const now = Date.now();
    for (const e of entries) {
      if (e.pending.size === 0 && now - e.lastUse > this.opts.idleMs) this.entries.delete(e.userId);
    }
    await this.refresh(entries.filter((e) => this.entries.has(e.userId)), flushed);
  }

  private async refresh(entries: Entry[], flushed = new Map<Entry, Map<string, bigint>>()): Promise<void> {
    for (const e of entries) {
      const state = await this.loadState(e.userId);
      const used = await repo.usageByMethod(this.db, e.userId, state.periodStart);
      const mine = flushed.get(e) ?? new Map<string, bigint>();
      const samePeriod = state.periodStart.getTime() === e.state.periodStart.getTime();
      const others = new Map<string, bigint>();
      if (samePeriod) {
        for (const [m, total] of used) {
          const grew = total - (e.used.get(m) ?? 0n) - (mine.get(m) ?? 0n);
          if (grew > 0n) others.set(m, grew);
        }
      }
      for (const [m, n] of mine) {
        const left = (e.local.get(m) ?? 0n) - n;
        if (left > 0n) e.local.set(m, left);
        else e.local.delete(m);
      }
      if (!samePeriod) e.local.clear();
      e.state = state;
      e.used = used;
      e.others = others;
    }
  }
}
