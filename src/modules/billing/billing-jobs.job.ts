import { defineJob } from '../../jobs/job';
import { expireInvoices, expireSubscriptions, remindSubscriptions, renewSubscriptions, syncRoles } from './billing-jobs';
import { drainRoleOutbox } from './billing.role-sync';

// The membership jobs; what each does is in billing-jobs.ts and billing.role-sync.ts. Each runs under the runner's
// cluster-wide advisory lock; the outbox claims (SKIP LOCKED + lease) keep concurrent drainers disjoint as well.

/** Applies queued role grants and removals (and re-grants for members who rejoined). */
export const billingRoleChanges = defineJob({ name: 'billing-role-changes', schedule: '*/5 * * * * *', run: (ctx) => drainRoleOutbox(ctx) });

export const subscriptionExpiry = defineJob({ name: 'subscription-expiry', schedule: '10 * * * * *', run: (ctx) => expireSubscriptions(ctx) });

export const subscriptionReminders = defineJob({ name: 'subscription-reminders', schedule: '20 */5 * * * *', run: (ctx) => remindSubscriptions(ctx) });

export const subscriptionRenewal = defineJob({ name: 'subscription-renewal', schedule: '30 */10 * * * *', run: (ctx) => renewSubscriptions(ctx) });

export const invoiceExpiry = defineJob({ name: 'invoice-expiry', schedule: '40 * * * * *', run: (ctx) => expireInvoices(ctx) });

/** Repairs role drift (a role removed by hand, a grant that failed before a permission was fixed). */
export const roleSync = defineJob({ name: 'role-sync', schedule: '50 */15 * * * *', run: (ctx) => syncRoles(ctx) });

export const billingJobs = [billingRoleChanges, subscriptionExpiry, subscriptionReminders, subscriptionRenewal, invoiceExpiry, roleSync];
