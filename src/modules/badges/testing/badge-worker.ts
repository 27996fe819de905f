import { bootWorker, runForever } from '../../../testing/crash-worker';

// Test support only: a stand-alone badge processor for badges.crash.test.ts, which SIGKILLs it mid-flight (boot and
// start: src/testing/crash-worker.ts). The loop is the badge-processor job run back to back.

const { services, log } = await bootWorker('badge-worker');
await runForever(async () => {
  const result = await services.badges.processPending();
  if (result.processed > 0) log.info(result, 'badge-processor pass');
});
