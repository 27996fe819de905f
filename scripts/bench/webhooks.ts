// Webhook costs, measured in one run on a throwaway embedded PostgreSQL:
//   1. Deliveries/s: WebhooksService.deliverDue() draining the outbox to a local receiver, against plain HTTP POSTs of
//      the same bodies from the same process (same parallelism, 10 in flight; a fresh connection per request like our
//      sender, and a keep-alive baseline for information). Target: delivery ≥ 0.5× plain POST.
//   2. Outbox write cost on tips: tips/s with no endpoint subscribed against every receiver having one endpoint
//      subscribed to tip.received (each tip then writes an event and a delivery row in its transaction). Runs are
//      interleaved (without, with, without, with…) so a noisy neighbour hits both alike. Target: with ≥ 0.85× without.
//   npx tsx scripts/bench/webhooks.ts [--deliveries 2000] [--seconds 5] [--clients 8] [--rounds 2] [--users 200]
// Exits 1 when a target is missed.
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import { parseConfig } from '../../src/config';
import { createDb, createPool, withDatabase } from '../../src/db/database';
import { freePort, startEmbeddedPostgres } from '../../src/db/embedded-postgres';
import { migrateToLatest } from '../../src/db/migrator';
import { createLogger } from '../../src/logger';
import { LedgerService, type DiscordUserRef } from '../../src/modules/ledger/ledger.service';
import { newSecret } from '../../src/modules/webhooks/webhooks.signing';
import { WebhooksService } from '../../src/modules/webhooks/webhooks.service';

const { values } = parseArgs({
  options: {
    deliveries: { type: 'string', default: '2000' },
    seconds: { type: 'string', default: '5' },
    clients: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '2' },
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
const receiver = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    received++;
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

  // ---- 2. tips/s without and with an endpoint per receiver, interleaved
  const without: number[] = [];
  const withOutbox: number[] = [];
  let runId = 0;
  for (let round = 0; round < rounds; round++) {
    for (const subscribed of [false, true]) {
      await db.updateTable('webhook_endpoints').set({ active: subscribed }).execute();
      const tps = await tipRun(ledger, users, ++runId);
      (subscribed ? withOutbox : without).push(tps);
      say(`tips ${subscribed ? 'with one endpoint per receiver' : 'without endpoints            '}  c=${clients}: ${tps.toFixed(0)} tips/s`);
    }
  }
  const written = Number((await sql<{ n: string }>`SELECT count(*) AS n FROM webhook_events`.execute(db)).rows[0]!.n);
  say(`outbox rows written by the "with" runs: ${written}`);

  // ---- 1. deliveries/s vs plain POSTs of the same bodies
  // Exactly `deliveries` due rows (the tips above wrote plenty): the rest are parked as delivered.
  await db.updateTable('webhook_endpoints').set({ active: true }).execute();
  await sql`UPDATE webhook_deliveries SET status = 'delivered'`.execute(db);
  await sql`UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = now() WHERE id IN (SELECT id FROM webhook_deliveries ORDER BY id LIMIT ${deliveries})`.execute(db);
  // The resets above left dead tuples a live table would have vacuumed away.
  await sql`VACUUM ANALYZE webhook_deliveries`.execute(db);
  const pending = Number((await sql<{ n: string }>`SELECT count(*) AS n FROM webhook_deliveries WHERE status = 'pending'`.execute(db)).rows[0]!.n);
  const bodies = (
    await sql<{ type: string; payload: unknown; created_at: Date }>`
      SELECT ev.type, ev.payload, ev.created_at FROM webhook_deliveries d JOIN webhook_events ev ON ev.id = d.event_id WHERE d.status = 'pending'`.execute(db)
  ).rows.map((e) => JSON.stringify({ type: e.type, timestamp: e.created_at.toISOString(), data: e.payload }));

  const webhooks = new WebhooksService(db, config);
  received = 0;
  let cpu0 = process.cpuUsage();
  let t0 = performance.now();
  let sent = 0;
  for (;;) {
    const r = await webhooks.deliverDue();
    const n = r.delivered + r.retried + r.dead;
    if (r.retried + r.dead > 0) throw new Error(`delivery failures during the bench: ${JSON.stringify(r)}`);
    sent += n;
    if (n === 0) break;
  }
  const deliveryRate = sent / ((performance.now() - t0) / 1000);
  const deliveryCpu = cpuMsPer(cpu0, sent);
  if (received !== pending) throw new Error(`receiver got ${received} of ${pending}`);

  const plainRate = async (agent: http.Agent | false) => {
    received = 0;
    cpu0 = process.cpuUsage();
    t0 = performance.now();
    for (let i = 0; i < bodies.length; i += PARALLEL) await Promise.all(bodies.slice(i, i + PARALLEL).map((b) => plainPost(receiverUrl, b, agent)));
    if (received !== bodies.length) throw new Error(`receiver got ${received} of ${bodies.length}`);
    return { rate: bodies.length / ((performance.now() - t0) / 1000), cpu: cpuMsPer(cpu0, bodies.length) };
  };
  const plainFresh = await plainRate(false);
  const keepAlive = new http.Agent({ keepAlive: true, maxSockets: PARALLEL });
  const plainKeepAlive = await plainRate(keepAlive);
  keepAlive.destroy();
  await db.destroy();

  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  let pass = true;
  const ratio = (x: number, base: number, goal: number) => {
    const r = x / base;
    pass &&= r >= goal;
    return `${r.toFixed(2)}×${r >= goal ? '' : ' MISS'} (target ≥ ${goal})`;
  };
  say('');
  say(`Summary (load ${loadavg().map((l) => l.toFixed(1)).join(' ')}, ${availableParallelism()} CPUs; ${pending} deliveries; tips: ${rounds} round(s) × ${seconds} s, median, ${clients} clients, ${userCount} users)`);
  say(`deliveries/s through the outbox: ${deliveryRate.toFixed(0)}   plain POST (fresh connection): ${plainFresh.rate.toFixed(0)}   ratio ${ratio(deliveryRate, plainFresh.rate, TARGET.delivery)}`);
  say(`  (information: plain POST over keep-alive ${plainKeepAlive.rate.toFixed(0)}/s, ratio ${(deliveryRate / plainKeepAlive.rate).toFixed(2)}×;`);
  say(`   this process's CPU per item incl. the receiver: outbox ${deliveryCpu.toFixed(2)} ms, plain fresh ${plainFresh.cpu.toFixed(2)} ms, keep-alive ${plainKeepAlive.cpu.toFixed(2)} ms)`);
  const w = median(withOutbox);
  const wo = median(without);
  say(`tips/s without endpoints: ${wo.toFixed(0)}   with one endpoint per receiver: ${w.toFixed(0)}   ratio ${ratio(w, wo, TARGET.tipsWithOutbox)}`);
  say(pass ? 'All targets met.' : 'Targets missed (see MISS above).');
  process.exitCode = pass ? 0 : 1;
} finally {
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
  await pg.stop();
  await rm(dataDir, { recursive: true, force: true });
}

/** `clients` concurrent loops of LedgerService.tip for `seconds` after a 1 s warm-up, uniform random pairs. */
async function tipRun(ledger: LedgerService, users: DiscordUserRef[], id: number): Promise<number> {
  const pick = () => users[Math.floor(Math.random() * users.length)]!;
  let counting = false;
  let stop = false;
  let done = 0;
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
  await new Promise((r) => setTimeout(r, 1000));
  counting = true;
  const started = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  counting = false;
  const elapsed = (performance.now() - started) / 1000;
  stop = true;
  await Promise.all(workers);
  await ledger.foldCredits();
  return done / elapsed;
}

function cpuMsPer(since: NodeJS.CpuUsage, items: number): number {
  const c = process.cpuUsage(since);
  return (c.user + c.system) / 1000 / Math.max(1, items);
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
