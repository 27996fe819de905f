import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

// `npm run demo` is a promise in the README: keep it true in CI.
describe('npm run demo', () => {
  it('runs every scripted step against the sandbox and exits 0', () => {
    const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn' };
    delete env.DATABASE_URL;
    delete env.DISCORD_TOKEN;
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/demo.ts'], { env, encoding: 'utf8', timeout: 180_000 });
    if (r.status !== 0) process.stderr.write(`${r.stdout}\n${r.stderr}`);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('demo: every step behaved');
  }, 200_000);
});
