import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { createServices } from '../../../app';
import { loadConfig } from '../../../config';
import { openDatabase } from '../../../db/open-database';
import { createLogger } from '../../../logger';

// Test support only: a stand-alone badge processor for badges.crash.test.ts, which SIGKILLs it mid-flight. Config
// and services are built from the environment exactly as the app builds them; the loop is the badge-processor job
// run back to back. It boots, prints READY, and starts on the first line of stdin.

const config = loadConfig();
const log = createLogger(config.LOG_LEVEL, 'badge-worker');
const { db } = await openDatabase(config, log);
const { badges } = createServices(db, undefined, config, log);

process.stdin.on('end', () => process.exit(0));
process.stdout.write('badge-worker ready\n');
await once(process.stdin, 'data');

for (;;) {
  const result = await badges.processPending();
  if (result.processed > 0) log.info(result, 'badge-processor pass');
  await sleep(20);
}
