import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './testing/test-db';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t.drop());

describe('main process', () => {
  it('starts, reports ready, serves /readyz, keeps serving without a TTY and exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: { ...process.env, DATABASE_URL: t.url, HTTP_PORT: '0', LOG_LEVEL: 'info', JOBS_ENABLED: 'false' },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const lines: Record<string, unknown>[] = [];
    const ready = new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          lines.push(entry);
          if (entry.msg === 'ready') resolve(String(entry.http));
        } catch {
          // not a log line
        }
      });
      child.once('exit', (code) => reject(new Error(`exited early with ${code}`)));
    });
    const url = await ready;
    const res = await fetch(`${url}/readyz`);
    expect(res.status).toBe(200);
    // stdin is a pipe, not a TTY: closing it must not stop the server.
    child.stdin!.end();
    await new Promise((r) => setTimeout(r, 300));
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    expect(lines.some((l) => l.msg === 'stopped')).toBe(true);
  });
});
