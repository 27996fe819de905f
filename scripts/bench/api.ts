// Partner API overhead, measured with a real HTTP load generator (autocannon) in one run on a throwaway PostgreSQL:
//   npx tsx scripts/bench/api.ts [--seconds 5] [--connections 16] [--senders 64] [--users 1000] [--rounds 1]
// Targets (DESIGN §8, issue 15):
//   metered GET /api/v1/balances ≥ 0.7× the same handler served without auth + metering (same server process);
//   POST /api/v1/tips ≥ 0.8× LedgerService.tip called directly at the same concurrency.
// p99 latency is printed for every HTTP run. Exits 1 on a missed target. Runs are interleaved per round.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { sql } from 'kysely';
import { startApp } from '../../src/app';
import { parseConfig } from '../../src/config';
import { createDb, createPool } from '../../src/db/database';
import { freePort, startEmbeddedPostgres } from '../../src/db/embedded-postgres';
import { createHttpServer } from '../../src/http/server';
import { createLogger } from '../../src/logger';
import { createMetrics } from '../../src/metrics';
import type { DiscordUserRef } from '../../src/modules/ledger/ledger.service';
import { balancesOf, balancesSchema } from '../../src/modules/quota/quota.api';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '16' },
    senders: { type: 'string', default: '64' },
    users: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '1' },
  },
});
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const say = (line: string) => process.stdout.write(`${line}\n`);
// In worker mode autocannon takes a module path where its typings say function.
const SETUP_CLIENT = fileURLToPath(new URL('./api-setup-client.cjs', import.meta.url)) as unknown as autocannon.Options['setupClient'];

const log = createLogger('warn', 'bench-api');
const dataDir = await mkdtemp(path.join(tmpdir(), 'solbound-bench-api-'));
const port = await freePort();
const pg = await startEmbeddedPostgres({ dataDir, port, log, flags: ['-c', 'max_connections=200'] });

try {
  const config = parseConfig({
    DATABASE_URL: pg.url,
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: '0',
    JOBS_ENABLED: 'false',
    LOG_LEVEL: 'warn',
    DB_POOL_MAX: String(Math.max(connections + 4, 20)),
    // Metering stays on the path (counted, checked, flushed every second); the limits are just out of reach.
    API_FREE_REQUESTS_PER_MONTH: '1000000000',
    API_BURST_PER_SECOND: '100000',
  });
  const app = await startApp(config, log);
  const { ctx } = app;

  const setup = createDb(createPool(pg.url, 1));
  await sql`INSERT INTO users (discord_id, username) SELECT (410000000000000000 + g)::text, 'bench' || g FROM generate_series(1, ${Number(values.users)}) g`.execute(setup);
  const users = (await setup.selectFrom('users').select(['discord_id', 'username']).orderBy('id').execute()).map((u): DiscordUserRef => ({ discordId: u.discord_id, username: u.username }));
  await setup.destroy();
  const senders = users.slice(0, Number(values.senders));
  const tokens: string[] = [];
  for (const [i, s] of senders.entries()) {
    await ctx.services.ledger.adminCredit({ idempotencyKey: `bench-fund-${i}`, user: s, amount: '1000000', currency: 'SOL', actor: s });
    tokens.push((await ctx.services.quota.createClient(s, { name: 'bench' })).token);
  }
  const pick = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)]!;
  const receiverFor = (sender: DiscordUserRef) => {
    for (;;) {
      const r = pick(users);
      if (r.discordId !== sender.discordId) return r;
    }
  };

  // The same balances handler, served by the same kind of server in the same process, without auth or metering.
  const bare = await createHttpServer({
    ctx,
    metrics: createMetrics(),
    plugins: [
      (scope) => {
        scope.withTypeProvider<ZodTypeProvider>().get('/bench/balances', { schema: { response: { 200: balancesSchema } } }, async (req) =>
          balancesOf(ctx, senders[Number(req.headers['x-sender'])]!),
        );
      },
    ],
  });
  const bareUrl = await bare.listen({ host: '127.0.0.1', port: 0 });

  const load = (opts: autocannon.Options) =>
    new Promise<autocannon.Result>((resolve, reject) => {
      void autocannon({ connections, duration: seconds, workers: 1, setupClient: SETUP_CLIENT, ...opts }, (err, result) => (err ? reject(err) : resolve(result)));
    });
  // Node CPU of this process (server + load-generator thread), as % of one core: shows when Node, not PostgreSQL, is the limit.
  const cpuSince = (start: NodeJS.CpuUsage, t0: number) => {
    const u = process.cpuUsage(start);
    return ((u.user + u.system) / 1000 / (Date.now() - t0)) * 100;
  };
  const http = async (name: string, opts: autocannon.Options) => {
    await load({ ...opts, duration: 1 });
    const [cpu0, t0] = [process.cpuUsage(), Date.now()];
    const r = await load(opts);
    const cpu = cpuSince(cpu0, t0);
    const bad = r.non2xx + r.errors;
    say(`${name.padEnd(34)} ${r.requests.average.toFixed(0).padStart(7)} req/s   p50 ${r.latency.p50} ms   p99 ${r.latency.p99} ms   node CPU ${cpu.toFixed(0)}%${bad ? `   ${bad} failed` : ''}`);
    return { rps: r.requests.average, failed: bad };
  };

  // Static request lists (one entry per sender, cycled by each connection) so the load generator can run in its own
  // worker thread; `[<id>]` becomes a fresh id per request (the Idempotency-Key).
  const runs = {
    bare: () =>
      http('GET /bench/balances (no auth/meter)', {
        url: bareUrl,
        requests: senders.map((_s, i) => ({ method: 'GET' as const, path: '/bench/balances', headers: { 'x-sender': String(i) } })),
      }),
    metered: () =>
      http('GET /api/v1/balances (metered)', {
        url: app.httpUrl,
        requests: tokens.map((token) => ({ method: 'GET' as const, path: '/api/v1/balances', headers: { authorization: `Bearer ${token}` } })),
      }),
    me: () =>
      http('GET /api/v1/me (no DB work)', {
        url: app.httpUrl,
        requests: tokens.map((token) => ({ method: 'GET' as const, path: '/api/v1/me', headers: { authorization: `Bearer ${token}` } })),
      }),
    apiTips: () =>
      http('POST /api/v1/tips', {
        url: app.httpUrl,
        idReplacement: true,
        requests: [0, 1, 2, 3].flatMap(() =>
          senders.map((sender, i) => ({
            method: 'POST' as const,
            path: '/api/v1/tips',
            headers: { authorization: `Bearer ${tokens[i]}`, 'idempotency-key': 'bench-[<id>]', 'content-type': 'application/json' },
            body: JSON.stringify({ to: receiverFor(sender).discordId, amount: '0.000001', currency: 'SOL' }),
          })),
        ),
      }),
    directTips: async () => {
      // `connections` concurrent loops calling the tip service directly (the API's tip path minus HTTP, auth, metering).
      const until = async (ms: number) => {
        const end = Date.now() + ms;
        let done = 0;
        await Promise.all(
          Array.from({ length: connections }, async () => {
            while (Date.now() < end) {
              const sender = pick(senders);
              await ctx.services.ledger.tip({ interactionId: `bench-direct:${randomUUID()}`, sender, receivers: [receiverFor(sender)], amount: '0.000001', currency: 'SOL' });
              done++;
            }
          }),
        );
        return done;
      };
      await until(1000);
      const [cpu0, t0] = [process.cpuUsage(), Date.now()];
      const rps = (await until(seconds * 1000)) / seconds;
      say(`${'LedgerService.tip (direct)'.padEnd(34)} ${rps.toFixed(0).padStart(7)} tips/s   node CPU ${cpuSince(cpu0, t0).toFixed(0)}%`);
      return { rps, failed: 0 };
    },
  };

  const results: Record<keyof typeof runs, number[]> = { bare: [], metered: [], me: [], apiTips: [], directTips: [] };
  let failed = 0;
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const name of Object.keys(runs) as Array<keyof typeof runs>) {
      const r = await runs[name]();
      results[name].push(r.rps);
      failed += r.failed;
    }
  }
  await bare.close();
  await app.stop();

  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const readRatio = median(results.metered) / median(results.bare);
  const tipRatio = median(results.apiTips) / median(results.directTips);
  say('');
  say(`Summary (${seconds} s per run, ${connections} connections, ${values.rounds} round(s), median; load ${loadavg().map((l) => l.toFixed(1)).join(' ')}, ${availableParallelism()} CPUs)`);
  say(`metered balances / unmetered: ${readRatio.toFixed(2)}× (goal ≥ 0.7) ${readRatio >= 0.7 ? 'PASS' : 'MISS'}`);
  say(`API tips / direct tips:       ${tipRatio.toFixed(2)}× (goal ≥ 0.8) ${tipRatio >= 0.8 ? 'PASS' : 'MISS'}`);
  if (failed) say(`${failed} HTTP requests failed`);
  process.exitCode = readRatio >= 0.7 && tipRatio >= 0.8 && failed === 0 ? 0 : 1;
} finally {
  await pg.stop();
  await rm(dataDir, { recursive: true, force: true });
}
