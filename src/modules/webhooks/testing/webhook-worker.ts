import { setTimeout as sleep } from 'node:timers/promises';
import { createServices } from '../../../app';
import { loadConfig } from '../../../config';
import { openDatabase } from '../../../db/open-database';
import { createLogger } from '../../../logger';

// Test support only: a stand-alone process for webhooks.crash.test.ts, which SIGKILLs it. Config and services are
// built from the environment exactly as the app builds them.
//   tip <senderDiscordId> <receiverDiscordId> <interactionId>   tips 0.1 SOL (the change + its outbox row commit
//                                                              together), prints "tipped", then idles until killed
//   deliver                                                     runs the webhook-delivery job back to back

const config = loadConfig();
const log = createLogger(config.LOG_LEVEL, 'webhook-worker');
const { db } = await openDatabase(config, log);
const services = createServices(db, undefined, config, log);
const [mode, ...args] = process.argv.slice(2);

if (mode === 'tip') {
  const [from, to, interactionId] = args as [string, string, string];
  await services.ledger.tip({ interactionId, sender: { discordId: from, username: 'sender' }, receivers: [{ discordId: to, username: 'receiver' }], amount: '0.1', currency: 'SOL' });
  process.stdout.write('tipped\n');
  // Committed, not delivered: the test kills the process here.
  for (;;) await sleep(60_000);
}

if (mode === 'deliver') {
  process.stdout.write('delivering\n');
  for (;;) {
    const result = await services.webhooks.deliverDue();
    if (result.delivered + result.retried + result.dead > 0) process.stdout.write(`run ${JSON.stringify(result)}\n`);
    await sleep(20);
  }
}

throw new Error(`unknown mode ${mode}`);
