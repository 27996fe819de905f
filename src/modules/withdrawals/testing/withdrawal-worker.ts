import { bootWorker, runForever } from '../../../testing/crash-worker';

// Test support only: a stand-alone withdrawal processor for withdrawals.crash.test.ts, which SIGKILLs it mid-flight
// (boot and start: src/testing/crash-worker.ts). The loop is the withdrawal-processor job run back to back.
// WORKER_NOTIFY=hang gives it a member notifier that prints `notifying <id>` and never returns, as a Discord that
// does not answer: the test kills it there, after the final status (and its owed notice) committed, before the DM.

const hang = process.env.WORKER_NOTIFY === 'hang';
const { services, log } = await bootWorker('withdrawal-worker', {
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
await runForever(async () => {
  const result = await services.withdrawals.processPending();
  if (result.processed > 0) log.info(result, 'withdrawal-processor pass');
});
