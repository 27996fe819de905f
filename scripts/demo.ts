import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config';
import { createLogger } from '../src/logger';
import { ConsoleSession } from '../src/sandbox/console';
import { startSandbox, type Sandbox } from '../src/sandbox/sandbox';

/**
 * `npm run demo`: a scripted sandbox session, non-interactive. Every step must behave (an error reply fails the
 * demo unless the line ends with `# expect-error`); exits 0 when all did. Steps are console lines, or functions
 * for what a person would do outside Discord (pay from a wallet, sign a message); a function may return more
 * console lines to run.
 */
type Step = string | ((sb: Sandbox) => Promise<string[] | void>);

const steps: Step[] = [
  '# --- general ---',
  'as alice /help',
  'as alice /ping',
];

const EXPECT_ERROR = /\s+#\s*expect-error\s*$/;

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL);
  // A throwaway embedded database (unless DATABASE_URL is set) so the demo never touches ./.data/pg.
  const dataDir = config.DATABASE_URL ? undefined : await mkdtemp(path.join(tmpdir(), 'solbound-demo-pg-'));
  const sandbox = await startSandbox(
    { ...config, HTTP_PORT: 0, ...(dataDir ? { PG_DATA_DIR: dataDir, PG_PORT: await freePort() } : {}) },
    log,
  );
  const session = new ConsoleSession(sandbox.discord);
  let failed = false;
  try {
    const queue = [...steps];
    while (queue.length) {
      const step = queue.shift()!;
      if (typeof step === 'function') {
        const more = await step(sandbox);
        if (more) queue.unshift(...more);
        continue;
      }
      const line = step.trim();
      if (!line) continue;
      if (line.startsWith('#')) {
        process.stdout.write(`\n${line}\n`);
        continue;
      }
      const expectError = EXPECT_ERROR.test(line);
      const command = line.replace(EXPECT_ERROR, '');
      const { output, isError } = await session.execute(command);
      process.stdout.write(`> ${command}\n${output}\n`);
      if (isError !== expectError) {
        throw new Error(`step "${command}" ${isError ? 'answered with an error' : 'was expected to fail but did not'}`);
      }
    }
    if (sandbox.discord.failures.length || sandbox.solana.failures.length) {
      throw new Error(`emulator gaps: ${[...sandbox.discord.failures, ...sandbox.solana.failures].join('; ')}`);
    }
    process.stdout.write('\ndemo: every step behaved\n');
  } catch (err) {
    failed = true;
    process.stderr.write(`\ndemo failed: ${(err as Error).message}\n`);
  } finally {
    await sandbox.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }
  process.exit(failed ? 1 : 0);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

await main();
