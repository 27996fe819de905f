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
// WORKER_NOTIFY=hang gives it a member notifier that prints `notifying <id>` and never returns, as a Discord that
// does not answer: the test kills it there, after the final status (and its owed notice) committed, before the DM.

const config = loadConfig();
const log = createLogger(config.LOG_LEVEL, 'withdrawal-worker');
const { db } = await openDatabase(config, log);
const hang = process.env.WORKER_NOTIFY === 'hang';
const { withdrawals } = createServices(db, undefined, config, log, {
  ...(hang
    ? {
        withdrawals: async (e) => {
          if (e.kind === 'payouts-capped') return;
          process.stdout.write(`notifying ${e.withdrawal.id}\n`);
          await new Promise<never>(() => undefined);
        },
      }
    : {}),
});

process.stdin.on('end', () => process.exit(0));
process.stdout.write('withdrawal-worker ready\n');
await once(process.stdin, 'data');

for (;;) {
  const result = await withdrawals.processPending();
  if (result.processed > 0) log.info(result, 'withdrawal-processor pass');
  await sleep(20);
}
