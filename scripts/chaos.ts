// The fault suite: three sharded bot replicas (src/main.ts, as production starts it) on one PostgreSQL server,
// the Discord and Solana emulators, member clients sending tips, rain, airdrops and Claim clicks, tickets, deposits,
// withdrawals and /balance, and a nemesis that SIGKILLs and restarts replicas, pauses them, terminates database
// sessions, restarts PostgreSQL (immediate shutdown), drops gateway sockets and fails Solana RPC calls. Then a checker
// prints a table of invariants (job runs come from the replicas' debug lines, so keep --log-level at debug).
//   npm run chaos [-- --duration 300 | --minutes 3] [--seed 42 --replicas 3 --interval 2000 --log-level debug]
// Exits 1 on any violated invariant; the printed seed replays the same workload choices and fault schedule.
import { parseArgs } from 'node:util';
import { startOwnPostgres } from '../src/testing/chaos/postgres';
import { runChaos } from '../src/testing/chaos/run';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '60' },
    minutes: { type: 'string' },
    seed: { type: 'string' },
    replicas: { type: 'string', default: '3' },
    interval: { type: 'string', default: '2000' },
    members: { type: 'string', default: '3' },
    'log-file': { type: 'string', default: '.data/chaos-replicas.jsonl' },
    'log-level': { type: 'string', default: 'debug' },
  },
});
function num(name: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    process.stderr.write(`--${name} must be a whole number from ${min} to ${max} (got "${value}")\n`);
    process.exit(2);
  }
  return n;
}
const seconds = values.minutes !== undefined ? num('minutes', values.minutes, 1, 600) * 60 : num('duration', values.duration, 5, 36_000);
const seed = values.seed !== undefined ? num('seed', values.seed, 0, 2 ** 32 - 1) : Math.floor(Math.random() * 2 ** 32);

const pg = await startOwnPostgres();
let ok = false;
try {
  const report = await runChaos({
    pg,
    seed,
    durationMs: seconds * 1000,
    replicas: num('replicas', values.replicas, 1, 16),
    membersPerGuild: num('members', values.members, 2, 50),
    faultIntervalMs: num('interval', values.interval, 200, 600_000),
    logFile: values['log-file'],
    logLevel: values['log-level'],
    log: (line) => process.stdout.write(`${line}\n`),
  });
  process.stdout.write(`\n${report.summary}\n`);
  ok = report.ok;
} finally {
  await pg.close();
}
process.exit(ok ? 0 : 1);
