import { bootWorker } from '../../../testing/crash-worker';
import { expireInvoices, remindSubscriptions } from '../billing-jobs';

// Test support only: a stand-alone membership-jobs process for billing-dms.crash.test.ts, which SIGKILLs it (boot and
// start: src/testing/crash-worker.ts). Its Discord never answers a DM: it prints `dm <discordId>` once it is inside
// the send — after the job's transaction committed — and hangs there, where the test kills it.
//   remind <nowMs>            one subscription-reminders run at that time
//   expire-invoices <nowMs>   one invoice-expiry run at that time

const [mode, at] = process.argv.slice(2);
const effects = {
  dms: {
    send: async (discordId: string): Promise<never> => {
      process.stdout.write(`dm ${discordId}\n`);
      return new Promise<never>(() => undefined);
    },
  },
};
const booted = await bootWorker('billing-dm-worker', effects);
const ctx = { ...booted, effects };
const now = new Date(Number(at));
if (mode === 'remind') await remindSubscriptions(ctx, { now });
else if (mode === 'expire-invoices') await expireInvoices(ctx, { now });
throw new Error(`unknown mode ${mode}, or the run returned without a DM`);
