import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOwnPostgres, type ChaosPostgres } from './postgres';
import { runChaos } from './run';

// The short fault suite inside `npm test`: the same run as `npm run chaos`, fewer seconds, a fixed seed (printed; pass
// it to `npm run chaos -- --seed` to replay the same workload choices and fault schedule at length).
const SEED = 20_261_128;
let pg: ChaosPostgres;

beforeAll(async () => {
  pg = await startOwnPostgres();
}, 60_000);
afterAll(async () => {
  await pg?.close();
});

describe('chaos: 3 sharded replicas on one PostgreSQL under kills, pauses, database and network faults', () => {
  it('keeps every invariant', async () => {
    const lines: string[] = [];
    const report = await runChaos({ pg, seed: SEED, durationMs: 15_000, faultIntervalMs: 1_500, settleMs: 45_000, logLevel: 'debug', logFile: path.join(tmpdir(), `solbound-chaos-${SEED}.jsonl`), log: (l) => lines.push(l) });
    process.stdout.write(`${report.summary}\n`);
    // The run must actually have hurt: replicas killed and the database cut off, with traffic flowing.
    expect(report.faults.filter((f) => f.kind === 'kill-9').length).toBeGreaterThan(0);
    expect(report.faults.some((f) => f.kind === 'pg-restart' || f.kind === 'pg-terminate')).toBe(true);
    expect(report.ops).toBeGreaterThan(50);
    expect(report.checks.filter((c) => !c.ok), `${lines.join('\n')}\n${report.summary}`).toEqual([]);
  }, 180_000);
});
