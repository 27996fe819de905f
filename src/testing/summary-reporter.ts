import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';
import { EMULATOR_STATS_ENV } from '../emulators/discord/discord-emulator';

interface EmulatorStats {
  requests: number;
  responses: number;
  violations: number;
  responseLatency: { count: number; worstMs: number; worst: string };
}

/**
 * Ends the run with one plain `N passed, N failed, N skipped` line that any CI log reader understands, preceded by
 * what the Discord emulators saw: traffic checked against Discord's spec and the slowest initial interaction response.
 */
export default class SummaryReporter implements Reporter {
  private statsFile = '';

  onInit(): void {
    // Test workers are forked after this and inherit the variable; each emulator appends a line when it closes.
    this.statsFile = path.join(tmpdir(), `solbound-discord-emu-stats-${process.pid}-${Date.now()}.jsonl`);
    process.env[EMULATOR_STATS_ENV] = this.statsFile;
  }

  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const mod of testModules) {
      // A file that failed to load has no tests but must still count as a failure.
      if (mod.state() === 'failed' && [...mod.children.allTests()].length === 0) failed++;
      for (const test of mod.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failed++;
        else skipped++;
      }
    }
    failed += unhandledErrors.length;
    const emulator = this.emulatorSummary();
    if (emulator) process.stdout.write(`\n${emulator}`);
    process.stdout.write(`\nTests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  }

  private emulatorSummary(): string | undefined {
    if (!this.statsFile || !existsSync(this.statsFile)) return undefined;
    const lines = readFileSync(this.statsFile, 'utf8').split('\n').filter(Boolean);
    rmSync(this.statsFile, { force: true });
    const total = { requests: 0, responses: 0, violations: 0, interactions: 0, worstMs: 0, worst: '' };
    for (const line of lines) {
      const s = JSON.parse(line) as EmulatorStats;
      total.requests += s.requests;
      total.responses += s.responses;
      total.violations += s.violations;
      total.interactions += s.responseLatency.count;
      if (s.responseLatency.worstMs > total.worstMs) Object.assign(total, { worstMs: s.responseLatency.worstMs, worst: s.responseLatency.worst });
    }
    return (
      `Discord emulator (${lines.length} runs): ${total.requests} request bodies and ${total.responses} JSON responses checked against ` +
      `Discord's OpenAPI spec, ${total.violations} violations; slowest of ${total.interactions} initial interaction responses: ` +
      `${Math.round(total.worstMs)} ms (${total.worst || 'none'}, deadline 3000 ms)\n`
    );
  }
}
