import { sql, type Kysely } from 'kysely';
import type { DB } from '../../db/schema';
import type { WithdrawalStatus } from '../../modules/withdrawals/withdrawals.tables';
import type { Cluster } from './cluster';
import { checkAirdrops, checkJobRuns, checkRain, checkTickets } from './feature-checks';
import { outcomeOf, type Member, type Op } from './workload';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

const FINAL_WITHDRAWAL: WithdrawalStatus[] = ['confirmed', 'refunded'];

/** Runs `fn` again while the database is still coming back from the last fault (a restart, terminated sessions). */
async function retrying<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= 20) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** Journal rows per idempotency-key prefix, for the ops' interaction ids. */
async function journalCounts(db: Kysely<DB>, keys: string[]): Promise<Map<string, number>> {
  if (keys.length === 0) return new Map();
  const rows = await db
    .selectFrom('journal')
    .select(['idempotency_key'])
    .where('idempotency_key', 'in', keys)
    .execute();
  const out = new Map<string, number>();
  for (const r of rows) out.set(r.idempotency_key, (out.get(r.idempotency_key) ?? 0) + 1);
  return out;
}

/**
 * Waits (bounded) for the work the faults interrupted to finish on its own, as it must without anyone's help: every
 * withdrawal final, every paid deposit credited, every acknowledged interaction answered, every ticket a killed
 * replica left without its thread removed.
 */
export async function settle(db: Kysely<DB>, ops: Op[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const paid = ops.flatMap((o) => (o.depositSignature ? [`deposit:${o.depositSignature}`] : []));
  for (;;) {
    const done = await retrying(async () => {
      const open = await db.selectFrom('withdrawals').select((eb) => eb.fn.countAll<string>().as('n')).where('status', 'not in', FINAL_WITHDRAWAL).executeTakeFirstOrThrow();
      const credited = await journalCounts(db, paid);
      const unanswered = ops.filter((o) => outcomeOf(o) === 'unanswered').length;
      const threadless = await db.selectFrom('tickets').select((eb) => eb.fn.countAll<string>().as('n')).where('thread_id', 'is', null).where('status', '<>', 'closed').executeTakeFirstOrThrow();
      return Number(open.n) === 0 && credited.size === paid.length && unanswered === 0 && Number(threadless.n) === 0;
    });
    if (done || Date.now() > deadline) return;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Every invariant of the run, each a row with its evidence. */
export async function checkInvariants(db: Kysely<DB>, cluster: Cluster, members: Member[], ops: Op[]): Promise<Check[]> {
  return retrying(() => runChecks(db, cluster, members, ops));
}

async function runChecks(db: Kysely<DB>, cluster: Cluster, members: Member[], ops: Op[]): Promise<Check[]> {
  const checks: Check[] = [];
  const add = (name: string, ok: boolean, detail: string) => checks.push({ name, ok, detail });
  const { solana, discord } = cluster.emus;

  // ---- conservation, per currency: what members hold or is on its way out = what came in − what went out.
  const { rows: money } = await sql<{ currency: string; balances: string; escrow: string; pending: string; revenue: string; inflows: string; outflows: string }>`
    with cur as (select distinct currency from journal)
    select cur.currency,
      coalesce((select sum(amount) from account_balances b where b.currency = cur.currency), 0)::text as balances,
      coalesce((select sum(remaining_amount) from airdrops a where a.currency = cur.currency and a.status = 'open'), 0)::text as escrow,
      coalesce((select sum(amount + fee) from withdrawals w where w.currency = cur.currency and w.status not in ('confirmed', 'refunded')), 0)::text as pending,
      coalesce((select sum(amount) from guild_revenue r where r.currency = cur.currency), 0)::text as revenue,
      coalesce((select sum(amount) from journal j where j.currency = cur.currency and j.type in ('admin_credit', 'deposit', 'invoice_deposit')), 0)::text as inflows,
      coalesce((select sum(amount + fee) from withdrawals w where w.currency = cur.currency and w.status = 'confirmed'), 0)::text as outflows
    from cur order by cur.currency`.execute(db);
  for (const m of money) {
    const held = BigInt(m.balances) + BigInt(m.escrow) + BigInt(m.pending) + BigInt(m.revenue);
    const net = BigInt(m.inflows) - BigInt(m.outflows);
    add(
      `conservation ${m.currency}`,
      held === net,
      `balances ${m.balances} + airdrop escrow ${m.escrow} + pending payouts ${m.pending} + revenue ${m.revenue} = ${held}; inflows ${m.inflows} − outflows ${m.outflows} = ${net}`,
    );
  }

  const { rows: negative } = await sql<{ n: number }>`
    select ((select count(*) from balances where amount < 0) + (select count(*) from account_balances where amount < 0))::int as n`.execute(db);
  add('no negative balance', negative[0]!.n === 0, `${negative[0]!.n} negative balance rows`);

  // ---- tips: what a member was shown is what happened, exactly once.
  const tips = ops.filter((o) => o.kind === 'tip' || o.kind === 'multi-tip');
  const legKeys = tips.flatMap((o) => o.to.map((_, leg) => `tip:${o.result.id}:${leg}`));
  const legs = await journalCounts(db, legKeys);
  const { rows: tipRows } = await sql<{ interaction_id: string; n: number }>`
    select split_part(idempotency_key, ':', 2) as interaction_id, count(*)::int as n from journal
    where type = 'tip' and split_part(idempotency_key, ':', 2) = any(${tips.map((o) => o.result.id)}) group by 1`.execute(db);
  const legsOf = new Map(tipRows.map((r) => [r.interaction_id, r.n]));
  const okTips = tips.filter((o) => outcomeOf(o) === 'ok');
  const wrongOk = okTips.filter((o) => legsOf.get(o.result.id) !== o.to.length || o.to.some((_, leg) => legs.get(`tip:${o.result.id}:${leg}`) !== 1));
  add('acknowledged tip applied exactly once', wrongOk.length === 0, `${okTips.length - wrongOk.length}/${okTips.length} tips shown as sent have exactly their legs${wrongOk.length ? `; wrong: ${wrongOk.slice(0, 3).map((o) => o.result.id).join(', ')}` : ''}`);
  const errTips = tips.filter((o) => outcomeOf(o) === 'error');
  const appliedErr = errTips.filter((o) => (legsOf.get(o.result.id) ?? 0) > 0);
  add('no tip applied that showed an error', appliedErr.length === 0, `${errTips.length} tips answered with an error, ${appliedErr.length} of them applied`);
  const askedTips = tips.filter((o) => outcomeOf(o) === 'asked');
  const appliedAsked = askedTips.filter((o) => (legsOf.get(o.result.id) ?? 0) > 0);
  add('no tip applied that only asked to confirm', appliedAsked.length === 0, `${askedTips.length} repeats asked to confirm (never clicked), ${appliedAsked.length} of them applied`);
  const failedTips = tips.filter((o) => outcomeOf(o) === 'interaction-failed');
  const failedApplied = failedTips.filter((o) => (legsOf.get(o.result.id) ?? 0) > 0).length;

  // ---- withdrawals: each request is one row; every row ends confirmed or refunded; no payout lands twice.
  const { rows: wrows } = await sql<{ idempotency_key: string; discord_id: string; status: string; amount: string; signature: string | null }>`
    select w.idempotency_key, u.discord_id, w.status, w.amount::text, w.signature from withdrawals w join users u on u.id = w.user_id`.execute(db);
  const byKey = new Map(wrows.map((w) => [w.idempotency_key, w]));
  const withdraws = ops.filter((o) => o.kind === 'withdraw');
  const okW = withdraws.filter((o) => outcomeOf(o) === 'ok');
  const errW = withdraws.filter((o) => outcomeOf(o) === 'error');
  const missingW = okW.filter((o) => !byKey.has(o.result.id)).length;
  const errWithRow = errW.filter((o) => byKey.has(o.result.id)).length;
  const errWithRowIds = errW.filter((o) => byKey.has(o.result.id)).map((o) => `${o.result.id}: ${o.result.messages[0]?.content.slice(0, 80)}`);
  add('acknowledged withdrawal recorded, errors not', missingW === 0 && errWithRow === 0, `${okW.length} shown as accepted (${missingW} without a row), ${errW.length} errors (${errWithRow} with a row${errWithRowIds.length ? `: ${errWithRowIds.join('; ')}` : ''})`);
  const open = wrows.filter((w) => !FINAL_WITHDRAWAL.includes(w.status as WithdrawalStatus));
  const confirmed = wrows.filter((w) => w.status === 'confirmed');
  add('every withdrawal confirmed or refunded', open.length === 0, `${confirmed.length} confirmed, ${wrows.length - confirmed.length - open.length} refunded, ${open.length} still open (${open.map((w) => w.status).join(', ') || 'none'})`);
  let doublePaid = 0;
  let payouts = 0;
  for (const m of members) {
    const mine = confirmed.filter((w) => w.discord_id === m.user.id);
    const expected = mine.reduce((a, w) => a + BigInt(w.amount), 0n);
    const landed = await rpc<unknown[]>(solana.rpcUrl, 'getSignaturesForAddress', [m.wallet]);
    payouts += landed.length;
    if (solana.balance(m.wallet) !== expected || landed.length !== mine.length) doublePaid++;
  }
  add('no payout sent twice (chain = confirmed rows)', doublePaid === 0, `${payouts} payouts on chain for ${confirmed.length} confirmed withdrawals; ${doublePaid} wallets disagree`);

  // ---- deposits: every transfer a member made to a request is credited once.
  const paid = ops.filter((o) => o.depositSignature);
  const credits = await journalCounts(db, paid.map((o) => `deposit:${o.depositSignature}`));
  const notOnce = paid.filter((o) => credits.get(`deposit:${o.depositSignature}`) !== 1).length;
  add('each deposit credited once', notOnce === 0, `${paid.length} paid, ${paid.length - notOnce} credited exactly once`);

  await checkAirdrops(db, ops, add);
  await checkRain(db, ops, add);
  await checkTickets(db, ops, add);
  add(...checkJobRuns(cluster));

  // ---- interactions: acknowledged means answered.
  const count = (o: ReturnType<typeof outcomeOf>) => ops.filter((x) => outcomeOf(x) === o).length;
  const unanswered = ops.filter((o) => outcomeOf(o) === 'unanswered');
  add(
    'every acknowledged interaction answered',
    unanswered.length === 0,
    `${ops.length} sent: ${count('ok')} ok, ${count('asked')} asked, ${count('error')} errors, ${count('interrupted')} told "interrupted, check", ${count('updated')} claims answered by the redrawn message only, ${count('interaction-failed')} "interaction failed" (never acknowledged; ${failedApplied} of ${failedTips.length} such tips applied), ${unanswered.length} acknowledged but unanswered${unanswered.length ? ` (${unanswered.map((o) => `${o.kind} ${o.result.id}${o.kind === 'withdraw' ? ` row ${byKey.get(o.result.id)?.status ?? 'none'}` : ''}`).join(', ')})` : ''}`,
  );

  const crashes = cluster.crashes();
  add('replicas never died on their own', crashes.length === 0, crashes.length ? crashes.slice(0, 2).join(' / ') : 'every exit was the nemesis\'s SIGKILL');
  // A paused replica answering after Discord's 3 s window is refused with 10062: the member saw "interaction failed",
  // counted above. Anything else the emulators flag is a protocol gap.
  // The reply outbox looking up such a forgotten interaction's deferral gets 10015 Unknown Webhook and drops it.
  const late = (f: { status: number; reason: string }) => f.status === 404 && /Unknown interaction|deadline 3000 ms/.test(f.reason);
  const forgotten = (f: { method: string; path: string; status: number; reason: string }) =>
    f.method === 'GET' && f.status === 404 && f.reason === 'Unknown Webhook' && f.path.endsWith('/messages/%40original');
  const gaps = [...discord.failures.filter((f) => !late(f) && !forgotten(f)), ...solana.failures];
  add(
    'emulators saw no protocol gaps',
    gaps.length === 0,
    `${discord.failures.filter(late).length} late first answers refused (10062), ${discord.failures.filter(forgotten).length} outbox looks at forgotten ones (10015); ${gaps.length ? JSON.stringify(gaps.slice(0, 2)) : 'no other failure'}`,
  );
  return checks;
}

async function rpc<T>(url: string, method: string, params: unknown[]): Promise<T> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) });
  return ((await res.json()) as { result: T }).result;
}

/** The table the run prints: one row per invariant. */
export function formatTable(checks: Check[]): string {
  const width = Math.max(...checks.map((c) => c.name.length));
  return checks.map((c) => `${c.ok ? 'PASS' : 'FAIL'}  ${c.name.padEnd(width)}  ${c.detail}`).join('\n');
}
