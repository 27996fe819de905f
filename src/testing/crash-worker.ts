import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kysely } from 'kysely';
import type { Effects, Services } from '../app-context';
import { createServices } from '../app';
import { loadConfig, type Config } from '../config';
import type { DB } from '../db/schema';
import { openDatabase } from '../db/open-database';
import { createLogger, type Logger } from '../logger';
import { WORKER_READY } from './crash-harness';

// Test support only: the worker side of crash-harness.ts. A worker script calls bootWorker, which builds config and
// services from the environment exactly as the app builds them, prints WORKER_READY and returns on the first line
// of stdin (so a test can boot the next worker while the current one runs). stdin closing means the test is gone:
// the worker exits rather than outliving it.

export interface BootedWorker {
  config: Config;
  log: Logger;
  db: Kysely<DB>;
  services: Services;
}

export async function bootWorker(name: string, effects: Effects = {}): Promise<BootedWorker> {
  const config = loadConfig();
  const log = createLogger(config.LOG_LEVEL, name);
  const { db } = await openDatabase(config, log);
  const services = createServices(db, undefined, config, log, effects);
  process.stdin.on('end', () => process.exit(0));
  process.stdout.write(`${WORKER_READY}\n`);
  await once(process.stdin, 'data');
  return { config, log, db, services };
}

/** Runs `pass` back to back (a job's ticks without the wait), until the test kills the process. */
export async function runForever(pass: () => Promise<unknown>): Promise<never> {
  for (;;) {
    await pass();
    await sleep(20);
  }
}

/** Committed, the rest not done: the test kills the process here. */
export async function idleForever(): Promise<never> {
  for (;;) await sleep(60_000);
}
