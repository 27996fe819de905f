import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { createServices } from '../../../app';
import { loadConfig } from '../../../config';
import { openDatabase } from '../../../db/open-database';
import { createLogger } from '../../../logger';

// Test support only: a stand-alone withdrawal processor for withdrawals.crash.test.ts, which SIGKILLs it
// mid-flight. Config and services are built from the environment exactly as the app builds them; the loop is
// the withdrawal-processor job run back to back. It boots, prints READY, and starts on the first line of stdin
// (so the test can boot the next worker while the current one runs); stdin closing means the test is gone.

const config = loadConfig();
const log = createLogger(config.LOG_LEVEL, 'withdrawal-worker');
const { db } = await openDatabase(config, log);
const { withdrawals } = createServices(db, undefined, config, log);

process.stdin.on('end', () => process.exit(0));
process.stdout.write('withdrawal-worker ready\n');
await once(process.stdin, 'data');

for (;;) {
  const result = await withdrawals.processPending();
  if (result.processed > 0) log.info(result, 'withdrawal-processor pass');
  await sleep(20);
}
