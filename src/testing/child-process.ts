import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

export interface Child {
  process: ChildProcess;
  /** Every stdout line so far; JSON log lines parsed. */
  lines: Array<{ raw: string; json?: Record<string, unknown> }>;
  /** Resolves with the first stdout line (past or future) matching, or rejects when the process exits first. */
  waitForLine(match: (line: { raw: string; json?: Record<string, unknown> }) => boolean, timeoutMs?: number): Promise<{ raw: string; json?: Record<string, unknown> }>;
  /** Sends `signal` (unless already gone) and resolves with the exit code (null when killed by a signal). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * A real child process (a bot replica, the emulators, dist/main.js, a crash-test worker) whose stdout lines a test can
 * wait for; stderr is passed through so a failing start explains itself in the test output. `stdin: 'pipe'` lets
 * the test talk to it (crash-harness.ts starts its workers that way).
 */
export function spawnChild(command: string, args: string[], opts: { env: NodeJS.ProcessEnv; cwd?: string; stdin?: 'pipe' }): Child {
  const child = spawn(command, args, { env: opts.env, cwd: opts.cwd, stdio: [opts.stdin ?? 'ignore', 'pipe', 'inherit'] });
  const lines: Child['lines'] = [];
  const watchers = new Set<() => void>();
  const exited = once(child, 'exit');
  createInterface({ input: child.stdout! }).on('line', (raw) => {
    let json: Record<string, unknown> | undefined;
    try {
      json = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      // not a log line
    }
    lines.push(json ? { raw, json } : { raw });
    for (const w of watchers) w();
  });
  return {
    process: child,
    lines,
    waitForLine(match, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = lines.find(match);
          if (found) done(() => resolve(found));
        };
        const timer = setTimeout(() => done(() => reject(new Error(`no matching line after ${timeoutMs} ms; got:\n${lines.map((l) => l.raw).join('\n')}`))), timeoutMs);
        const onExit = () => setImmediate(() => done(() => reject(new Error(`exited with ${child.exitCode ?? child.signalCode} before a matching line:\n${lines.map((l) => l.raw).join('\n')}`))));
        const done = (settle: () => void) => {
          clearTimeout(timer);
          watchers.delete(check);
          child.off('exit', onExit);
          settle();
        };
        watchers.add(check);
        child.once('exit', onExit);
        check();
      });
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const [code] = (await exited) as [number | null];
      return code;
    },
  };
}

/** `node --import tsx <file>` from the repository root, as `npm run` would start it without npm in between. */
export function spawnTsx(file: string, args: string[], env: NodeJS.ProcessEnv): Child {
  return spawnChild(process.execPath, ['--import', 'tsx', file, ...args], { env });
}
