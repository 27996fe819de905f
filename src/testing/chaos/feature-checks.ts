import { sql, type Kysely } from 'kysely';
import type { DB } from '../../db/schema';
import type { Cluster } from './cluster';
import { MAX_OPEN_TICKETS, outcomeOf, type Op } from './workload';

// The checker's rows for airdrops, rain, tickets and job ticks (checker.ts has money, tips, withdrawals, deposits).

export type AddCheck = (name: string, ok: boolean, detail: string) => void;

const sample = (xs: string[]) => (xs.length ? `; e.g. ${xs.slice(0, 3).join(', ')}` : '');

/**
 * Airdrops: an acknowledged /airdrop made one airdrop and an error made none; per (airdrop, member) at most one claim
 * applied, exactly one when any click said "You claimed" or "already claimed", none when every click showed another
 * error; per airdrop the escrow is conserved (escrowed = claimed + refunded + still open) and the counters agree.
 */
export async function checkAirdrops(db: Kysely<DB>, ops: Op[], add: AddCheck): Promise<void> {
  const creates = ops.filter((o) => o.kind === 'airdrop');
  const made = new Set((await db.selectFrom('airdrops').select('interaction_id').execute()).map((r) => r.interaction_id));
  const okMissing = creates.filter((o) => outcomeOf(o) === 'ok' && !made.has(o.result.id));
  const errMade = creates.filter((o) => outcomeOf(o) === 'error' && made.has(o.result.id));
  add(
    'acknowledged airdrop created once, errors none',
    okMissing.length === 0 && errMade.length === 0,
    `${creates.filter((o) => outcomeOf(o) === 'ok').length} shown as started (${okMissing.length} missing), ${creates.filter((o) => outcomeOf(o) === 'error').length} errors (${errMade.length} created)`,
  );

  const { rows: applied } = await sql<{ key: string; n: number }>`
    select split_part(j.idempotency_key, ':', 2) || ':' || u.discord_id as key, count(*)::int as n
    from journal j join users u on u.id = j.to_user_id where j.type = 'airdrop_claim' group by 1`.execute(db);
  const appliedOf = new Map(applied.map((r) => [r.key, r.n]));
  const clicks = ops.filter((o) => o.kind === 'claim');
  const groups = new Map<string, Op[]>();
  for (const c of clicks) {
    const key = `${c.airdropId}:${c.member.user.id}`;
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  const wrong: string[] = [];
  for (const [key, group] of groups) {
    const n = appliedOf.get(key) ?? 0;
    const outcomes = group.map(outcomeOf);
    const saidApplied = group.some((c, i) => outcomes[i] === 'ok' || (outcomes[i] === 'error' && /already claimed/.test(c.result.messages.at(-1)?.content ?? '')));
    const allRefused = outcomes.every((o) => o === 'error') && !saidApplied;
    if (n > 1 || (saidApplied && n !== 1) || (allRefused && n !== 0)) wrong.push(`${key} applied ${n} (${outcomes.join('/')})`);
  }
  const byOutcome = (o: string) => clicks.filter((c) => outcomeOf(c) === o).length;
  add(
    'airdrop claims applied exactly as shown',
    wrong.length === 0,
    `${clicks.length} Claim clicks (${clicks.filter((c) => c.double).length} in double clicks): ${byOutcome('ok')} "You claimed", ${byOutcome('error')} errors, ${byOutcome('updated')} redrawn only, ${byOutcome('interaction-failed')} failed; ${groups.size} (airdrop, member) pairs, ${wrong.length} wrong${sample(wrong)}`,
  );

  const { rows: books } = await sql<{ id: string; status: string; total: string; remaining: string; made: number; allowed: number; escrowed: string; claimed: string; refunded: string; claim_rows: number; claim_recs: number }>`
    select a.id::text, a.status, a.total_amount::text as total, a.remaining_amount::text as remaining, a.claims_made as made, a.claims_allowed as allowed,
      coalesce(sum(j.amount) filter (where j.type = 'airdrop_escrow'), 0)::text as escrowed,
      coalesce(sum(j.amount) filter (where j.type = 'airdrop_claim'), 0)::text as claimed,
      coalesce(sum(j.amount) filter (where j.type = 'airdrop_refund'), 0)::text as refunded,
      (count(*) filter (where j.type = 'airdrop_claim'))::int as claim_rows,
      (select count(*) from airdrop_claims c where c.airdrop_id = a.id)::int as claim_recs
    from airdrops a left join journal j on j.ref = 'airdrop:' || a.id and j.type in ('airdrop_escrow', 'airdrop_claim', 'airdrop_refund')
    group by a.id`.execute(db);
  const off = books.filter(
    (b) =>
      BigInt(b.escrowed) !== BigInt(b.total) ||
      BigInt(b.escrowed) !== BigInt(b.claimed) + BigInt(b.refunded) + BigInt(b.remaining) ||
      b.claim_rows !== b.made ||
      b.claim_recs !== b.made ||
      b.made > b.allowed,
  );
  const open = books.filter((b) => b.status === 'open').length;
  add(
    'airdrop escrow conserved per airdrop',
    off.length === 0,
    `${books.length} airdrops (${open} open): escrowed = claimed + refunded + remaining and claims journalled = recorded = counted ≤ allowed; ${off.length} off${sample(off.map((b) => `#${b.id} ${JSON.stringify(b)}`))}`,
  );
}

/** Rain: an acknowledged /rain paid exactly the members it named, once each; one that showed an error paid nobody. */
export async function checkRain(db: Kysely<DB>, ops: Op[], add: AddCheck): Promise<void> {
  const rains = ops.filter((o) => o.kind === 'rain');
  const { rows } = await sql<{ interaction_id: string; legs: number; distinct_receivers: number }>`
    select split_part(idempotency_key, ':', 2) as interaction_id, count(*)::int as legs, count(distinct to_user_id)::int as distinct_receivers
    from journal where type = 'rain' and split_part(idempotency_key, ':', 2) = any(${rains.map((o) => o.result.id)}) group by 1`.execute(db);
  const legsOf = new Map(rows.map((r) => [r.interaction_id, r]));
  const wrong: string[] = [];
  for (const o of rains) {
    const legs = legsOf.get(o.result.id);
    const outcome = outcomeOf(o);
    if (outcome === 'ok') {
      const named = (o.result.messages[0]!.content.split('made it rain on')[1] ?? '').match(/<@\d+>/g)?.length ?? 0;
      if (!legs || legs.legs !== named || legs.distinct_receivers !== named) wrong.push(`${o.result.id}: named ${named}, legs ${legs?.legs ?? 0}`);
    } else if (outcome === 'error' && legs) {
      wrong.push(`${o.result.id}: error shown, ${legs.legs} legs`);
    }
  }
  const n = (x: string) => rains.filter((o) => outcomeOf(o) === x).length;
  add('rain legs exactly as shown', wrong.length === 0, `${rains.length} /rain: ${n('ok')} ok, ${n('error')} errors, ${n('interaction-failed')} failed; ${wrong.length} wrong${sample(wrong)}`);
}

/**
 * Tickets: an acknowledged form made exactly one ticket, with its thread, and an error made none; no ticket left
 * without a thread (nobody could see it, and it counts against the member's limit); nobody above the open limit;
 * a close shown as done left the ticket closed, a claim shown as done left it claimed by staff.
 */
export async function checkTickets(db: Kysely<DB>, ops: Op[], add: AddCheck): Promise<void> {
  const rows = await db.selectFrom('tickets').select(['id', 'discord_id', 'status', 'thread_id', 'claimed_by', 'source_interaction_id']).execute();
  const bySource = new Map<string, typeof rows>();
  for (const r of rows) if (r.source_interaction_id) bySource.set(r.source_interaction_id, [...(bySource.get(r.source_interaction_id) ?? []), r]);
  const byId = new Map(rows.map((r) => [String(r.id), r]));
  const submits = ops.filter((o) => o.kind === 'ticket-submit');
  const wrong: string[] = [];
  for (const o of submits) {
    const made = bySource.get(o.result.id) ?? [];
    const outcome = outcomeOf(o);
    if (outcome === 'ok' && (made.length !== 1 || !made[0]!.thread_id || (o.ticketId && String(made[0]!.id) !== o.ticketId))) wrong.push(`${o.result.id}: shown opened, ${made.length} rows`);
    if (outcome === 'error' && made.length > 0) wrong.push(`${o.result.id}: error shown, ${made.length} rows`);
  }
  const n = (x: string) => submits.filter((o) => outcomeOf(o) === x).length;
  add(
    'acknowledged ticket opened once, errors none',
    wrong.length === 0,
    `${submits.length} forms submitted: ${n('ok')} opened, ${n('error')} errors, ${n('interrupted')} told "interrupted", ${n('interaction-failed')} failed; ${wrong.length} wrong${sample(wrong)}`,
  );

  const stranded = rows.filter((r) => r.status !== 'closed' && !r.thread_id);
  const open = new Map<string, number>();
  for (const r of rows) if (r.status !== 'closed') open.set(r.discord_id, (open.get(r.discord_id) ?? 0) + 1);
  const over = [...open].filter(([, k]) => k > MAX_OPEN_TICKETS);
  add(
    'tickets: each has its thread, none over the limit',
    stranded.length === 0 && over.length === 0,
    `${rows.length} tickets, ${rows.filter((r) => r.status === 'closed').length} closed; ${stranded.length} without a thread${sample(stranded.map((r) => `#${r.id} ${r.status}`))}; ${over.length} members above ${MAX_OPEN_TICKETS} open`,
  );

  const actions = ops.filter((o) => (o.kind === 'ticket-close' || o.kind === 'ticket-claim') && outcomeOf(o) === 'ok');
  const badActions = actions.filter((o) => {
    const t = byId.get(o.ticketId!);
    return !t || (o.kind === 'ticket-close' ? t.status !== 'closed' : t.claimed_by === null);
  });
  add(
    'ticket closes and claims shown as done hold',
    badActions.length === 0,
    `${actions.filter((o) => o.kind === 'ticket-close').length} closes and ${actions.filter((o) => o.kind === 'ticket-claim').length} claims shown as done; ${badActions.length} not so${sample(badActions.map((o) => `${o.kind} #${o.ticketId}`))}`,
  );
}

/**
 * Job ticks, from every replica incarnation's `job ran` lines: no (job, tick) ran twice, and no two runs of one job
 * overlapped in time unless one of them failed (a run that lost its lock mid-way is reported failed).
 */
export function checkJobRuns(cluster: Cluster): [string, boolean, string] {
  const runs = cluster
    .logLines()
    .filter((l) => l.json.msg === 'job ran' && Number(l.json.startedAt) > 0)
    .map((l) => ({ replica: l.replica, job: String(l.json.job), tick: l.json.tick as string | undefined, status: String(l.json.status), start: Number(l.json.startedAt), end: Number(l.json.endedAt) }));
  const ticks = new Map<string, number>();
  for (const r of runs) if (r.tick) ticks.set(`${r.job}@${r.tick}`, (ticks.get(`${r.job}@${r.tick}`) ?? 0) + 1);
  const twice = [...ticks].filter(([, n]) => n > 1).map(([k]) => k);
  const byJob = new Map<string, typeof runs>();
  for (const r of runs) byJob.set(r.job, [...(byJob.get(r.job) ?? []), r]);
  let overlaps = 0;
  let excused = 0;
  const shown: string[] = [];
  for (const [job, list] of byJob) {
    list.sort((a, b) => a.start - b.start);
    for (let i = 1; i < list.length; i++) {
      const prev = list.slice(0, i).reduce((a, b) => (b.end > a.end ? b : a));
      const cur = list[i]!;
      if (cur.start >= prev.end) continue;
      if (prev.status === 'failed' || cur.status === 'failed') excused++;
      else {
        overlaps++;
        shown.push(`${job} ${prev.replica}/${cur.replica}`);
      }
    }
  }
  const failed = runs.filter((r) => r.status === 'failed').length;
  if (runs.length === 0) return ['each job tick ran at most once cluster-wide', false, 'no "job ran" lines: replicas must log at debug'];
  return [
    'each job tick ran at most once cluster-wide',
    twice.length === 0 && overlaps === 0,
    `${runs.length} runs of ${byJob.size} jobs over ${ticks.size} ticks (${failed} failed); ${twice.length} ticks run twice${sample(twice)}; ${overlaps} overlapping runs${sample(shown)} (${excused} overlaps with a failed run)`,
  ];
}
