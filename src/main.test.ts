import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, isAlive } from './db/embedded-postgres';
import { createTestDatabase, type TestDatabase } from './testing/test-db';

/** `npm start`'s entry point as a child process; stdout JSON log lines are collected, stderr kept as text. */
function startMain(env: Record<string, string>): { child: ChildProcess; lines: Record<string, unknown>[]; stderr: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...process.env, LOG_LEVEL: 'info', JOBS_ENABLED: 'false', HTTP_PORT: '0', DISCORD_TOKEN: '', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // not a log line
    }
  });
  let err = '';
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exit = once(child, 'exit').then(([code]) => code as number | null);
  return { child, lines, stderr: () => err, exit };
}

/** Processes whose command line names the data directory (postgres and its children do: `-D <dir>`). */
function processesUsing(dataDir: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(dataDir)) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

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

describe('start-up that explains itself', () => {
  let dataDir: string;
  let holder: Server | undefined;
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'solbound-main-pg-'));
    // initdb runs as the unprivileged postgres user, which must reach the cluster directories below.
    await chmod(dataDir, 0o755);
  });
  afterAll(async () => {
    holder?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('with PG_PORT taken, exits 1 naming PG_PORT', async () => {
    const port = await freePort();
    holder = createServer();
    await new Promise<void>((resolve) => holder!.listen(port, '127.0.0.1', resolve));
    const run = startMain({ DATABASE_URL: '', PG_DATA_DIR: path.join(dataDir, 'taken'), PG_PORT: String(port) });
    expect(await run.exit).toBe(1);
    expect(run.stderr()).toContain(`PG_PORT ${port} is in use — set PG_PORT or stop the other instance`);
    expect(run.lines.find((l) => l.level === 60)?.msg).toContain('PG_PORT');
  });

  it('SIGTERM 0.5 s into start-up stops the embedded PostgreSQL it started and exits 0', async () => {
    const pgDir = path.join(dataDir, 'sigterm');
    const run = startMain({ DATABASE_URL: '', PG_DATA_DIR: pgDir, PG_PORT: String(await freePort()) });
    await expect.poll(() => run.lines.some((l) => l.msg === 'starting'), { timeout: 20_000 }).toBe(true);
    await new Promise((r) => setTimeout(r, 500));
    run.child.kill('SIGTERM');
    expect(await run.exit).toBe(0);
    expect(run.lines.some((l) => l.msg === 'ready')).toBe(false);
    expect(run.lines.some((l) => l.msg === 'start-up aborted; stopped')).toBe(true);
    const pidFile = path.join(pgDir, 'postmaster.pid');
    if (existsSync(pidFile)) expect(isAlive(Number(readFileSync(pidFile, 'utf8').split('\n')[0]))).toBe(false);
    expect(processesUsing(pgDir)).toEqual([]);
  }, 90_000);
});
