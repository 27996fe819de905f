// Webhook costs, measured in one run on a throwaway embedded PostgreSQL:
//   1. Deliveries/s: WebhooksService.deliverDue() draining the outbox to a local receiver, against plain HTTP POSTs of
//      the same bodies (the ones the outbox run delivered, captured by the receiver) from the same process, same
//      parallelism (10 in flight). The baseline for the target is a fresh connection per request, like our sender
//      (which connects per attempt so every connection passes the SSRF check); keep-alive is printed for information.
//      Target: delivery ≥ 0.5× plain POST.
//   2. Outbox write cost on tips: tips/s and WAL bytes per tip with no endpoint subscribed against every receiver having
//      one endpoint subscribed to tip.received (each tip then writes an event and a delivery row in its transaction).
//      Target: with ≥ 0.85× without.
//   npx tsx scripts/bench/webhooks.ts [--deliveries 1000 per round] [--seconds 5] [--clients 8] [--rounds 5] [--users 200]
// Every comparison runs --rounds times, interleaved (the order rotates each round, so neither side always runs first
// or last), every run's value and the load average are printed, and the verdict uses medians: one noisy run cannot
// decide pass or fail. Exits 1 when a target is missed.
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { sql, type Kysely } from 'kysely';
import { parseConfig } from '../../src/config';
import { createDb, createPool, withDatabase } from '../../src/db/database';
import { freePort, startEmbeddedPostgres } from '../../src/db/embedded-postgres';
import { migrateToLatest } from '../../src/db/migrator';
import type { DB } from '../../src/db/schema';
import { createLogger } from '../../src/logger';
import { LedgerService, type DiscordUserRef } from '../../src/modules/ledger/ledger.service';
import { newSecret } from '../../src/modules/webhooks/webhooks.signing';
import { WebhooksService } from '../../src/modules/webhooks/webhooks.service';

const { values } = parseArgs({
  options: {
    deliveries: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '5' },
    clients: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '5' },
    users: { type: 'string', default: '200' },
  },
});
const deliveries = Number(values.deliveries);
const seconds = Number(values.seconds);
const clients = Number(values.clients);
const rounds = Number(values.rounds);
const userCount = Number(values.users);
const TARGET = { delivery: 0.5, tipsWithOutbox: 0.85 } as const;
const PARALLEL = 10;
const say = (line: string) => process.stdout.write(`${line}\n`);

const log = createLogger('warn', 'bench-webhooks');
const dataDir = await mkdtemp(path.join(tmpdir(), 'solbound-bench-webhooks-'));
const port = await freePort();
const pg = await startEmbeddedPostgres({ dataDir, port, log, flags: ['-c', 'max_connections=100'] });

// The partner's receiver: reads the body, answers 204. Same process, so both senders share the event loop with it.
let received = 0;
/** Bodies received while `capture` is set: the outbox run's, which the plain POSTs then send again. */
let captured: string[] | undefined;
const receiver = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    received++;
    captured?.push(Buffer.concat(chunks).toString('utf8'));
    res.statusCode = 204;
    res.end();
  });
});
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;

try {
  const admin = createDb(createPool(pg.url, 1));
  await sql`CREATE DATABASE webhooks`.execute(admin);
  await admin.destroy();
  const url = withDatabase(pg.url, 'webhooks');
  const db = createDb(createPool(url, clients + 2));
  await migrateToLatest(db);
  await sql`INSERT INTO users (discord_id, username) SELECT (500000000000000000 + g)::text, 'bench' || g FROM generate_series(1, ${userCount}) g`.execute(db);
  await sql`INSERT INTO balances (user_id, currency, amount) SELECT id, 'SOL', 1000000000000000000 FROM users`.execute(db);
  await sql`INSERT INTO journal (type, to_user_id, amount, currency, idempotency_key) SELECT 'admin_credit', id, 1000000000000000000, 'SOL', 'bench-fund:' || id FROM users`.execute(db);
  // One API client, environment and endpoint per member, all inactive until the "with" runs switch them on.
  await sql`INSERT INTO api_clients (owner_user_id, name) SELECT id, 'bench-app' FROM users`.execute(db);
  await sql`INSERT INTO api_client_environments (client_id, environment, token_hash, token_hint) SELECT id, 'dev', 'bench-hash-' || id, 'xxxx' FROM api_clients`.execute(db);
  await sql`
    INSERT INTO webhook_endpoints (environment_id, owner_user_id, url, event_types, secret, active)
    SELECT e.id, c.owner_user_id, ${receiverUrl}, ARRAY['tip.received'], ${newSecret()}, false
    FROM api_client_environments e JOIN api_clients c ON c.id = e.client_id`.execute(db);
  await sql`VACUUM ANALYZE`.execute(db);
  const users = (await db.selectFrom('users').select(['discord_id', 'username']).orderBy('id').execute()).map((u): DiscordUserRef => ({ discordId: u.discord_id, username: u.username }));
  const config = parseConfig({ WEBHOOKS_ALLOW_PRIVATE: 'true' });
  const ledger = new LedgerService(db, config);

  // ---- 2. tips/s and WAL per tip without and with an endpoint per receiver, interleaved, order rotating per round
  const without: TipSample[] = [];
  const withOutbox: TipSample[] = [];
  let runId = 0;
  for (let round = 0; round < rounds; round++) {
    for (const subscribed of round % 2 ? [true, false] : [false, true]) {
      await db.updateTable('webhook_endpoints').set({ active: subscribed }).execute();
      const s = await tipRun(db, ledger, users, ++runId);
      (subscribed ? withOutbox : without).push(s);
      say(`round ${round + 1} tips ${subscribed ? 'with one endpoint per receiver' : 'without endpoints            '}  c=${clients}: ${s.tps.toFixed(0)} tips/s, ${s.walPerTip.toFixed(0)} WAL B/tip  (load ${s.load.toFixed(1)})`);
    }
  }
  const written = Number((await sql<{ n: string }>`SELECT count(*) AS n FROM webhook_events`.execute(db)).rows[0]!.n);
  say(`outbox rows written by the "with" runs: ${written}`);

  // ---- 1. deliveries/s vs plain POSTs of the same bodies, interleaved by round (outbox, plain fresh, plain keep-alive)
  // `deliveries` rows per round (the tips above wrote plenty); the rest are parked as delivered.
  await db.updateTable('webhook_endpoints').set({ active: true }).execute();
  await sql`UPDATE webhook_deliveries SET status = 'delivered'`.execute(db);
  // The tip runs' writes and the reset above would otherwise be flushed and vacuumed during the first round only.
  await sql`VACUUM ANALYZE`.execute(db);
  await sql`CHECKPOINT`.execute(db);
  const webhooks = new WebhooksService(db, config);
  const keepAlive = new http.Agent({ keepAlive: true, maxSockets: PARALLEL });
  const outbox: Sample[] = [];
  const fresh: Sample[] = [];
  const kept: Sample[] = [];
  for (let round = 0; round < rounds; round++) {
    const pending = (
      await sql<{ id: string }>`
        UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = now()
        WHERE id IN (SELECT id FROM webhook_deliveries ORDER BY id OFFSET ${round * deliveries} LIMIT ${deliveries}) RETURNING id`.execute(db)
    ).rows.length;
    if (pending < deliveries) throw new Error(`only ${pending} deliveries left for round ${round + 1}; lower --deliveries`);

    // The outbox goes first (its bodies are the plain POSTs'); the two plain variants swap places every round.
    const load = loadavg()[0]!;
    captured = [];
    outbox.push(
      await measure(async () => {
        for (;;) {
          const r = await webhooks.deliverDue();
          if (r.retried + r.dead > 0) throw new Error(`delivery failures during the bench: ${JSON.stringify(r)}`);
          if (r.delivered === 0) break;
        }
      }, deliveries),
    );
    const bodies = captured;
    captured = undefined;
    const plain = [[false, fresh], [keepAlive, kept]] as const;
    for (const [agent, into] of round % 2 ? [...plain].reverse() : plain)
      into.push(
        await measure(async () => {
          for (let i = 0; i < bodies.length; i += PARALLEL) await Promise.all(bodies.slice(i, i + PARALLEL).map((b) => plainPost(receiverUrl, b, agent)));
        }, bodies.length),
      );
    say(
      `round ${round + 1} deliveries (load ${load.toFixed(1)}): outbox ${outbox.at(-1)!.rate.toFixed(0)}/s ${outbox.at(-1)!.cpu.toFixed(2)} ms CPU   ` +
        `plain fresh ${fresh.at(-1)!.rate.toFixed(0)}/s ${fresh.at(-1)!.cpu.toFixed(2)} ms   plain keep-alive ${kept.at(-1)!.rate.toFixed(0)}/s ${kept.at(-1)!.cpu.toFixed(2)} ms   ` +
        `ratio ${(outbox.at(-1)!.rate / fresh.at(-1)!.rate).toFixed(2)}×`,
    );
  }
  keepAlive.destroy();
  await db.destroy();

  const median = (xs: number[]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  };
  const list = (xs: number[], digits = 0) => xs.map((x) => x.toFixed(digits)).join(', ');
  let pass = true;
  const ratio = (x: number, base: number, goal: number) => {
    const r = x / base;
    pass &&= r >= goal;
    return `${r.toFixed(2)}×${r >= goal ? '' : ' MISS'} (target ≥ ${goal})`;
  };
  say('');
  say(`Summary (load now ${loadavg().map((l) => l.toFixed(1)).join(' ')}, ${availableParallelism()} CPUs; ${rounds} round(s), median; ${deliveries} deliveries per round; tips ${seconds} s per run, ${clients} clients, ${userCount} users)`);
  const med = (xs: Sample[], k: keyof Sample) => median(xs.map((x) => x[k]));
  const deliveryRate = med(outbox, 'rate');
  const plainFresh = med(fresh, 'rate');
  say(`deliveries/s through the outbox: ${deliveryRate.toFixed(0)} [${list(outbox.map((x) => x.rate))}]`);
  say(`  plain POST, fresh connection:  ${plainFresh.toFixed(0)} [${list(fresh.map((x) => x.rate))}]`);
  say(`  per-round ratios [${list(outbox.map((x, i) => x.rate / fresh[i]!.rate), 2)}]; median rates ratio ${ratio(deliveryRate, plainFresh, TARGET.delivery)}`);
  say(`  (information: plain POST over keep-alive ${med(kept, 'rate').toFixed(0)}/s [${list(kept.map((x) => x.rate))}], ratio ${(deliveryRate / med(kept, 'rate')).toFixed(2)}×;`);
  say(`   this process's CPU per item incl. the receiver: outbox ${med(outbox, 'cpu').toFixed(3)} ms, plain fresh ${med(fresh, 'cpu').toFixed(3)} ms, keep-alive ${med(kept, 'cpu').toFixed(3)} ms)`);
  const w = median(withOutbox.map((x) => x.tps));
  const wo = median(without.map((x) => x.tps));
  say(`tips/s without endpoints: ${wo.toFixed(0)} [${list(without.map((x) => x.tps))}]`);
  say(`  with one endpoint per receiver: ${w.toFixed(0)} [${list(withOutbox.map((x) => x.tps))}]`);
  say(`  per-round ratios [${list(withOutbox.map((x, i) => x.tps / without[i]!.tps), 2)}]; median tips/s ratio ${ratio(w, wo, TARGET.tipsWithOutbox)}`);
  const walW = median(withOutbox.map((x) => x.walPerTip));
  const walWo = median(without.map((x) => x.walPerTip));
  say(`  WAL bytes per tip: without ${walWo.toFixed(0)} [${list(without.map((x) => x.walPerTip))}], with ${walW.toFixed(0)} [${list(withOutbox.map((x) => x.walPerTip))}]: +${(walW - walWo).toFixed(0)} B (${(walW / walWo).toFixed(2)}×)`);
  say(pass ? 'All targets met.' : 'Targets missed (see MISS above).');
  process.exitCode = pass ? 0 : 1;
} finally {
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
  await pg.stop();
  await rm(dataDir, { recursive: true, force: true });
}

interface TipSample {
  tps: number;
  walPerTip: number;
  /** The 1-minute load average when the run started. */
  load: number;
}

async function walLsn(db: Kysely<DB>): Promise<string> {
  return (await sql<{ lsn: string }>`SELECT pg_current_wal_insert_lsn()::text AS lsn`.execute(db)).rows[0]!.lsn;
}

/** `clients` concurrent loops of LedgerService.tip for `seconds` after a 1 s warm-up, uniform random pairs. */
async function tipRun(db: Kysely<DB>, ledger: LedgerService, users: DiscordUserRef[], id: number): Promise<TipSample> {
  const pick = () => users[Math.floor(Math.random() * users.length)]!;
  let counting = false;
  let stop = false;
  let done = 0;
  const load = loadavg()[0]!;
  const worker = async (w: number) => {
    for (let i = 0; !stop; i++) {
      const receiver = pick();
      let sender = pick();
      while (sender === receiver) sender = pick();
      await ledger.tip({ interactionId: `bench-${id}-${w}-${i}`, sender, receivers: [receiver], amount: 1000n, currency: 'SOL' });
      if (counting) done++;
    }
  };
  const workers = Array.from({ length: clients }, (_, w) => worker(w));
  // A failing tip ends the run with its own error rather than as an unhandled rejection after PostgreSQL stopped.
  const failed = Promise.all(workers).then(() => undefined);
  failed.catch(() => (stop = true));
  await new Promise((r) => setTimeout(r, 1000));
  const lsn0 = await walLsn(db);
  counting = true;
  const started = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  counting = false;
  const elapsed = (performance.now() - started) / 1000;
  const lsn1 = await walLsn(db);
  stop = true;
  await failed;
  const wal = Number((await sql<{ b: string }>`SELECT pg_wal_lsn_diff(${lsn1}::pg_lsn, ${lsn0}::pg_lsn)::text AS b`.execute(db)).rows[0]!.b);
  await ledger.foldCredits();
  return { tps: done / elapsed, walPerTip: wal / done, load };
}

interface Sample {
  rate: number;
  /** This process's CPU ms per item (the receiver included). */
  cpu: number;
}

/** Runs `work` (which sends `items` requests) and checks the receiver got them all. */
async function measure(work: () => Promise<void>, items: number): Promise<Sample> {
  received = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await work();
  const seconds = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(cpu0);
  if (received !== items) throw new Error(`receiver got ${received} of ${items}`);
  return { rate: items / seconds, cpu: (c.user + c.system) / 1000 / items };
}

function plainPost(url: string, body: string, agent: http.Agent | false): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 204 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}
