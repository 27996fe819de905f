// Interaction ack latency through the loopback Discord emulator against the real discord.js client.
//   tsx scripts/bench/interactions.ts [--rate 200] [--seconds 20] [--warmup 2] [--command /ping|/tip] [--jobs]
// Target (DESIGN §8): ack p99 < 50 ms at 200 interactions/s. `--command /tip` (issue 18): each of 50 funded members
// tips the next one a tiny amount, so every interaction is a real ledger_tip(); `--jobs` runs the app's jobs
// (ledger fold and rollup, deposit watch, webhooks, …) on their schedules meanwhile, as production does.
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../src/config';
import { freePort } from '../../src/db/embedded-postgres';
import { createLogger } from '../../src/logger';
import { startSandbox } from '../../src/sandbox/sandbox';
import type { InteractionResult } from '../../src/emulators/discord/interaction-result';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '20' },
    command: { type: 'string', default: '/ping' },
    warmup: { type: 'string', default: '2' },
    jobs: { type: 'boolean', default: false },
  },
});
const rate = Number(values.rate);
const seconds = Number(values.seconds);

// The whole app as `npm start` runs it without a token (the sandbox), on a throwaway embedded database unless
// DATABASE_URL is set; jobs off unless --jobs, as the measured path is interaction → ack.
const config = loadConfig();
const dataDir = config.DATABASE_URL ? undefined : await mkdtemp(path.join(tmpdir(), 'solbound-bench-pg-'));
const sandbox = await startSandbox(
  { ...config, LOG_LEVEL: 'warn', HTTP_PORT: 0, JOBS_ENABLED: values.jobs!, ...(dataDir ? { PG_DATA_DIR: dataDir, PG_PORT: await freePort() } : {}) },
  createLogger('warn'),
  // Only here: discord.js would otherwise throttle itself to 50 requests/s.
  { discordRest: { globalRequestsPerSecond: Infinity } },
);
const bot = {
  emu: sandbox.discord,
  async close() {
    await sandbox.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  },
};
const users = Array.from({ length: 50 }, (_, i) => bot.emu.user(`bench-${i}`));
const tipping = values.command === '/tip';
if (tipping) {
  const ledger = sandbox.app.ctx.services.ledger;
  for (const u of users) {
    await ledger.adminCredit({ idempotencyKey: `bench-${u.id}`, user: { discordId: u.id, username: u.username }, amount: '10', actor: { discordId: u.id, username: 'bench' } });
  }
}
// 10 SOL each stays within the sandbox treasury, so the solvency job does not raise its alert mid-run.
/** The n-th interaction: /tip pays the next member 0.000001 SOL (below any confirmation threshold). */
const interaction = (n: number) => {
  const user = users[n % users.length]!;
  return tipping ? bot.emu.runCommand(user, '/tip', { user: users[(n + 1) % users.length]!, amount: '0.000001' }) : bot.emu.runCommand(user, values.command!);
};

/** Sends `count` interactions at `rate`/s; catch-up scheduling because timers are coarse. */
async function drive(count: number): Promise<{ results: InteractionResult[]; seconds: number }> {
  const results: InteractionResult[] = [];
  const started = performance.now();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const due = Math.min(count, Math.floor(((performance.now() - started) / 1000) * rate));
      while (results.length < due) results.push(interaction(results.length));
      if (results.length >= count) {
        clearInterval(timer);
        resolve();
      }
    }, 2);
  });
  return { results, seconds: (performance.now() - started) / 1000 };
}

// Warm-up (JIT, connection pools) is driven the same way but left out of the numbers.
const warm = await drive(Math.round(rate * Number(values.warmup)));
await Promise.allSettled(warm.results.map((r) => r.reply(10_000)));
const cpuBefore = process.cpuUsage();
const { results, seconds: sendSeconds } = await drive(Math.round(rate * seconds));
const settled = await Promise.allSettled(results.map((r) => Promise.all([r.ack(10_000), r.reply(10_000)])));
// CPU per interaction (client + emulator, one process) is the load-independent number: at 200/s it must stay well
// under 5 ms or the process cannot keep up at all.
const cpu = process.cpuUsage(cpuBefore);
const cpuMsPerInteraction = (cpu.user + cpu.system) / 1000 / results.length;
const failed = settled.filter((s) => s.status === 'rejected').length;
const acks = results.map((r) => r.ackLatencyMs).filter((v): v is number => v !== undefined).sort((a, b) => a - b);
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
const pct = (p: number) => percentile(acks, p);
// p99 per 5 s window tells steady degradation (a leak) apart from a noisy neighbour on a shared machine.
const windows: string[] = [];
const perWindow = rate * 5;
for (let i = 0; i < results.length; i += perWindow) {
  const slice = results.slice(i, i + perWindow).map((r) => r.ackLatencyMs ?? Infinity).sort((a, b) => a - b);
  windows.push(percentile(slice, 99).toFixed(1));
}

const say = (line: string) => process.stdout.write(`${line}\n`);
say(`${values.command}${values.jobs ? ' (jobs running)' : ''}: ${results.length} interactions in ${sendSeconds.toFixed(1)} s (${(results.length / sendSeconds).toFixed(0)}/s), ${failed} failed`);
say(`ack latency ms: p50 ${pct(50).toFixed(2)}  p90 ${pct(90).toFixed(2)}  p99 ${pct(99).toFixed(2)}  max ${(acks.at(-1) ?? NaN).toFixed(2)}`);
say(`ack p99 per 5 s window ms: ${windows.join('  ')}   (load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}, ${availableParallelism()} CPUs)`);
say(`CPU per interaction (bot + emulator): ${cpuMsPerInteraction.toFixed(2)} ms`);
say(`target p99 < 50 ms: ${pct(99) < 50 && failed === 0 ? 'PASS' : 'FAIL'}`);
if (bot.emu.failures.length) say(`emulator failures: ${JSON.stringify(bot.emu.failures.slice(0, 5))}`);
await bot.close();
process.exit(pct(99) < 50 && failed === 0 && bot.emu.failures.length === 0 ? 0 : 1);
