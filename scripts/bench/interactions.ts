// Interaction ack latency through the loopback Discord emulator against the real bot, in its own process.
//   tsx scripts/bench/interactions.ts [--rate 200] [--seconds 20] [--warmup 3] [--command /ping|/tip] [--jobs]
//                                     [--cpu-prof <dir>]
// Target (DESIGN §8, issue 18): ack p99 < 50 ms at 200 interactions/s. Three kinds of process, as in production:
// the bot (`node --import tsx src/main.ts`, configuration by environment only), PostgreSQL, and this one (the
// emulated Discord + Solana and the load generator). On a 2-core machine a generator sharing the bot's event loop
// delays both, so the bot runs apart and this process reports its own CPU, event-loop delay and send lag (when each
// interaction left vs when it was due): a saturated generator is reported as such, not counted against the bot.
// `--command /tip`: each of 50 funded members tips the next one, every amount distinct (an identical tip within
// REPEAT_TIP_WINDOW_SECONDS would only ask Confirm/Cancel and move nothing), so every interaction is a ledger_tip().
// `--jobs` runs the app's jobs on their schedules meanwhile. `--cpu-prof` writes the bot's V8 CPU profile there.
// Statements per interaction come from pg_stat_statements (BEGIN/COMMIT included: each is a round trip).
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync, readdirSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import { parseConfig } from '../../src/config';
import { createDb, createPool } from '../../src/db/database';
import { freePort, startEmbeddedPostgres } from '../../src/db/embedded-postgres';
import { migrateToLatest } from '../../src/db/migrator';
import { isErrorReply } from '../../src/discord/error-reply';
import { renderMessage } from '../../src/emulators/discord/render-message';
import type { InteractionResult } from '../../src/emulators/discord/interaction-result';
import { createLogger } from '../../src/logger';
import { LedgerService } from '../../src/modules/ledger/ledger.service';
import { botProcessEnv, startEmulatorsWithCommands } from '../../src/testing/bot-process';
import { spawnChild } from '../../src/testing/child-process';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '20' },
    command: { type: 'string', default: '/ping' },
    warmup: { type: 'string', default: '3' },
    jobs: { type: 'boolean', default: false },
    'cpu-prof': { type: 'string' },
  },
});
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const tipping = values.command === '/tip';
const TARGET_P99_MS = 50;
/** Send lag or event-loop delay p99 above this: the generator, not the bot, set the pace. */
const GENERATOR_SATURATED_MS = 10;
const say = (line: string) => process.stdout.write(`${line}\n`);

// ---------------------------------------------------------------- CPU of each process (Linux /proc)

const TICKS_PER_SECOND = 100;
function procCpuMs(pid: number, withReapedChildren = false): number {
  try {
    // Fields after the command name (which may hold spaces): utime is the 14th field overall, stime the 15th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[11]) + Number(f[12]) + (withReapedChildren ? Number(f[13]) + Number(f[14]) : 0);
    return (ticks / TICKS_PER_SECOND) * 1000;
  } catch {
    return 0;
  }
}
/** The postmaster, its live children, and what its exited children used (cutime/cstime). */
function postgresCpuMs(postmasterPid: number): number {
  let total = procCpuMs(postmasterPid, true);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === postmasterPid) total += procCpuMs(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return total;
}

// Whatever was started is stopped again, in reverse order, also when a step fails.
const cleanups: Array<() => Promise<unknown>> = [];
let exitCode = 2;
// ---------------------------------------------------------------- set-up: PostgreSQL, emulators, the bot
try {

  const log = createLogger('warn', 'bench');
  const dataDir = await mkdtemp(path.join(tmpdir(), 'solbound-bench-pg-'));
  const pg = await startEmbeddedPostgres({
    dataDir,
    port: await freePort(),
    log,
    flags: ['-c', 'shared_preload_libraries=pg_stat_statements', '-c', 'pg_stat_statements.track=top'],
  });
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }), () => pg.stop());
  const db = createDb(createPool(pg.url, 2));
  cleanups.push(() => db.destroy());
  await migrateToLatest(db);
  await sql`create extension if not exists pg_stat_statements`.execute(db);
  const postmasterPid = Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);

  const emus = await startEmulatorsWithCommands({ guildName: 'Solbound Bench' });
  cleanups.push(() => emus.close());
  const emu = emus.discord;
  const users = Array.from({ length: 50 }, (_, i) => emu.user(`bench-${i}`));
  if (tipping) {
    // 10 SOL each stays within the emulated treasury, so the solvency job does not raise its alert mid-run.
    const ledger = new LedgerService(db, parseConfig(emus.env));
    for (const u of users) {
      await ledger.adminCredit({ idempotencyKey: `bench-${u.id}`, user: { discordId: u.id, username: u.username }, amount: '10', actor: { discordId: u.id, username: 'bench' } });
    }
  }

  const nodeFlags = values['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(values['cpu-prof'])}`] : [];
  const bot = spawnChild(process.execPath, [...nodeFlags, '--import', 'tsx', 'src/main.ts'], {
    env: botProcessEnv(emus, pg.url, { JOBS_ENABLED: String(values.jobs) }),
  });
  cleanups.push(() => bot.stop('SIGTERM'));
  await bot.waitForLine((l) => l.json?.msg === 'ready', 120_000);
  const botPid = bot.process.pid!;

  // ---------------------------------------------------------------- load

  let sent = 0;
  /** The n-th interaction: /tip pays the next member 0.000001 SOL + n lamports (distinct, below any confirmation threshold). */
  const interaction = (n: number) => {
    const user = users[n % users.length]!;
    if (!tipping) return emu.runCommand(user, values.command!);
    const amount = `0.${String(1000 + n).padStart(9, '0')}`;
    return emu.runCommand(user, '/tip', { user: users[(n + 1) % users.length]!, amount });
  };

  /** Sends `count` interactions at `rate`/s with catch-up (timers are coarse); records each one's send lag. */
  async function drive(count: number): Promise<{ results: InteractionResult[]; lagsMs: number[]; seconds: number }> {
    const results: InteractionResult[] = [];
    const lagsMs: number[] = [];
    const started = performance.now();
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const now = performance.now();
        // Interaction i is due at i / rate seconds.
        const due = Math.min(count, Math.floor(((now - started) / 1000) * rate) + 1);
        while (results.length < due) {
          lagsMs.push(performance.now() - (started + (results.length / rate) * 1000));
          results.push(interaction(sent++));
        }
        if (results.length >= count) {
          clearInterval(timer);
          resolve();
        }
      }, 1);
    });
    return { results, lagsMs, seconds: (performance.now() - started) / 1000 };
  }

  const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
  const sortNum = (xs: number[]) => [...xs].sort((a, b) => a - b);

  // Warm-up (JIT, connection pools) is driven the same way but left out of the numbers.
  const warm = await drive(Math.round(rate * Number(values.warmup)));
  await Promise.allSettled(warm.results.map((r) => r.reply(10_000)));
  await sql`select pg_stat_statements_reset()`.execute(db);

  const loop = monitorEventLoopDelay({ resolution: 2 });
  loop.enable();
  const wallStart = performance.now();
  const cpuBefore = { bench: process.cpuUsage(), bot: procCpuMs(botPid), pg: postgresCpuMs(postmasterPid) };
  const { results, lagsMs, seconds: sendSeconds } = await drive(Math.round(rate * seconds));
  const settled = await Promise.allSettled(results.map((r) => Promise.all([r.ack(10_000), r.reply(10_000)])));
  const wallMs = performance.now() - wallStart;
  const benchCpu = process.cpuUsage(cpuBefore.bench);
  const cpu = { bench: (benchCpu.user + benchCpu.system) / 1000, bot: procCpuMs(botPid) - cpuBefore.bot, pg: postgresCpuMs(postmasterPid) - cpuBefore.pg };
  loop.disable();

  const { rows: statements } = await sql<{ query: string; calls: number; mean_ms: number }>`
    select query, calls::float8 as calls, mean_exec_time as mean_ms from pg_stat_statements where dbid = (select oid from pg_database where datname = current_database())
    order by 2 desc`.execute(db);

  // ---------------------------------------------------------------- report

  const failed = settled.filter((s) => s.status === 'rejected').length;
  const outcomes = { applied: 0, asked: 0, error: 0 };
  for (const r of results) {
    const first = r.messages[0];
    if (!first) continue;
    if (isErrorReply(first.content)) outcomes.error++;
    else if (renderMessage(first).includes('(tip-confirm:')) outcomes.asked++;
    else outcomes.applied++;
  }
  const acks = sortNum(results.map((r) => r.ackLatencyMs).filter((v): v is number => v !== undefined));
  const pct = (p: number) => percentile(acks, p);
  const lags = sortNum(lagsMs);
  const loopP99 = loop.percentile(99) / 1e6;
  // p99 per 5 s window tells steady degradation (a leak) apart from a noisy neighbour on a shared machine.
  const windows: string[] = [];
  for (let i = 0; i < results.length; i += rate * 5) {
    windows.push(percentile(sortNum(results.slice(i, i + rate * 5).map((r) => r.ackLatencyMs ?? Infinity)), 99).toFixed(1));
  }
  const n = results.length;
  const share = (ms: number) => `${((ms / wallMs) * 100).toFixed(0)}% of a core, ${(ms / n).toFixed(2)} ms/interaction`;
  const totalCalls = statements.reduce((s, r) => s + Number(r.calls), 0);

  say(`${values.command}${values.jobs ? ' (jobs running)' : ''}: ${n} interactions sent in ${sendSeconds.toFixed(1)} s = ${(n / sendSeconds).toFixed(0)}/s achieved (asked ${rate}/s), ${failed} failed (no ack or reply within 10 s)`);
  if (tipping) say(`outcomes: ${outcomes.applied} applied, ${outcomes.asked} asked to confirm, ${outcomes.error} errors`);
  say(`ack latency ms (INTERACTION_CREATE sent → initial response callback received): p50 ${pct(50).toFixed(2)}  p95 ${pct(95).toFixed(2)}  p99 ${pct(99).toFixed(2)}  max ${(acks.at(-1) ?? NaN).toFixed(2)}`);
  say(`ack p99 per 5 s window ms: ${windows.join('  ')}`);
  say(`generator: send lag ms p50 ${percentile(lags, 50).toFixed(2)}  p99 ${percentile(lags, 99).toFixed(2)}  max ${(lags.at(-1) ?? NaN).toFixed(2)}; event-loop delay p99 ${loopP99.toFixed(2)} ms`);
  say(`CPU over ${(wallMs / 1000).toFixed(1)} s: bot ${share(cpu.bot)} | postgres ${share(cpu.pg)} | generator+emulators ${share(cpu.bench)}`);
  say(`database statements per interaction: ${(totalCalls / n).toFixed(2)} (all sessions, jobs included); top (per interaction, mean execution ms):`);
  for (const s of statements.slice(0, 12)) say(`  ${(Number(s.calls) / n).toFixed(2)}  ${Number(s.mean_ms).toFixed(2)} ms  ${s.query.replace(/\s+/g, ' ').slice(0, 100)}`);
  say(`load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} on ${availableParallelism()} CPUs`);
  if (emu.failures.length) say(`emulator failures: ${JSON.stringify(emu.failures.slice(0, 5))}`);

  const saturated = percentile(lags, 99) > GENERATOR_SATURATED_MS || loopP99 > GENERATOR_SATURATED_MS;
  const met = pct(99) < TARGET_P99_MS && failed === 0 && outcomes.error === 0 && emu.failures.length === 0;
  if (saturated) say(`generator saturated (send lag or event-loop delay p99 > ${GENERATOR_SATURATED_MS} ms): its own delay is inside these latencies`);
  say(`target p99 < ${TARGET_P99_MS} ms: ${met ? 'PASS' : 'FAIL'}${saturated ? ' (generator saturated: not a verdict on the bot)' : ''}`);
  exitCode = met ? 0 : 1;
} catch (err) {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
}
process.exit(exitCode);
