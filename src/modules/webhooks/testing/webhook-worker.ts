import { bootWorker, idleForever, runForever } from '../../../testing/crash-worker';

// Test support only: a stand-alone process for webhooks.crash.test.ts, which SIGKILLs it (boot and start:
// src/testing/crash-worker.ts).
//   tip <senderDiscordId> <receiverDiscordId> <interactionId>   tips 0.1 SOL (the change + its outbox row commit
//                                                              together), prints "tipped", then idles until killed
//   deliver                                                     runs the webhook-delivery job back to back

const [mode, ...args] = process.argv.slice(2);
const { services } = await bootWorker('webhook-worker');

if (mode === 'tip') {
  const [from, to, interactionId] = args as [string, string, string];
  await services.ledger.tip({ interactionId, sender: { discordId: from, username: 'sender' }, receivers: [{ discordId: to, username: 'receiver' }], amount: '0.1', currency: 'SOL' });
  process.stdout.write('tipped\n');
  await idleForever();
}

if (mode === 'deliver') {
  process.stdout.write('delivering\n');
  await runForever(async () => {
    const result = await services.webhooks.deliverDue();
    if (result.delivered + result.retried + result.dead > 0) process.stdout.write(`run ${JSON.stringify(result)}\n`);
  });
}

throw new Error(`unknown mode ${mode}`);
