import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** One registry per app instance (tests run several apps in one process, so no global default registry). */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    jobRuns: new Counter({
      name: 'solbound_job_runs_total',
      help: 'Job runs by outcome (ok, failed, skipped = another replica held the lock)',
      labelNames: ['job', 'outcome'] as const,
      registers: [registry],
    }),
    jobDuration: new Histogram({
      name: 'solbound_job_duration_seconds',
      help: 'Job run duration',
      labelNames: ['job'] as const,
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers: [registry],
    }),
    httpRequests: new Counter({
      name: 'solbound_http_requests_total',
      help: 'HTTP requests by route and status class',
      labelNames: ['route', 'status'] as const,
      registers: [registry],
    }),
    // Ticket SLAs, observed once per ticket when it closes.
    ticketFirstResponseSeconds: new Histogram({
      name: 'solbound_ticket_first_response_seconds',
      help: 'Time from a ticket opening to the first staff response (claim or reply), for closed tickets',
      labelNames: ['priority'] as const,
      buckets: [60, 300, 900, 3600, 4 * 3600, 12 * 3600, 86400, 3 * 86400],
      registers: [registry],
    }),
    ticketResolutionSeconds: new Histogram({
      name: 'solbound_ticket_resolution_seconds',
      help: 'Time from a ticket opening to its close',
      labelNames: ['priority'] as const,
      buckets: [300, 3600, 4 * 3600, 12 * 3600, 86400, 3 * 86400, 7 * 86400],
      registers: [registry],
    }),
    dmsUndelivered: new Counter({
      name: 'solbound_dms_undelivered_total',
      help: 'Direct messages Discord refused to deliver, by reason (dms_closed = the member does not accept DMs)',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    up: new Gauge({ name: 'solbound_up', help: '1 once the app is ready', registers: [registry] }),
    // Solvency check: liabilities (balances + withdrawals in flight) minus treasury holdings, when positive.
    badgeIssuerLamports: new Gauge({ name: 'solbound_badge_issuer_lamports', help: 'Badge issuer SOL balance (lamports)', registers: [registry] }),
    badgeIssuerLow: new Gauge({ name: 'solbound_badge_issuer_low', help: '1 while the badge issuer balance is below BADGE_ISSUER_MIN_LAMPORTS', registers: [registry] }),
    treasuryShortfall: new Gauge({
      name: 'solbound_treasury_shortfall',
      help: 'Ledger liabilities not covered by treasury holdings, base units per currency (0 = solvent)',
      labelNames: ['currency'] as const,
      registers: [registry],
    }),
    withdrawalsPaused: new Gauge({
      name: 'solbound_withdrawals_paused',
      help: '1 while the solvency check has paused withdrawals of the currency',
      labelNames: ['currency'] as const,
      registers: [registry],
    }),
    // Payout velocity: the bot-wide hourly outflow cap holding payouts back (alert on this).
    withdrawalsHeldByCap: new Gauge({
      name: 'solbound_withdrawals_held_by_cap',
      help: 'Payouts of the currency waiting for the hourly outflow cap, as this process saw them (> 0 = payouts paused)',
      labelNames: ['currency'] as const,
      registers: [registry],
    }),
    withdrawalCapHolds: new Counter({
      name: 'solbound_withdrawal_cap_holds_total',
      help: 'Times a payout was held back by the hourly outflow cap (counted per attempt to release it)',
      labelNames: ['currency'] as const,
      registers: [registry],
    }),
    walletNoncesDeleted: new Counter({
      name: 'solbound_wallet_nonces_deleted_total',
      help: 'Expired wallet-link nonces deleted by the nonce-cleanup job',
      registers: [registry],
    }),
    webhookDeliveries: new Counter({
      name: 'solbound_webhook_deliveries_total',
      help: 'Webhook delivery attempts by outcome (delivered, retry, dead)',
      labelNames: ['status'] as const,
      registers: [registry],
    }),
    webhookAttemptSeconds: new Histogram({
      name: 'solbound_webhook_attempt_seconds',
      help: 'Duration of one webhook delivery attempt (connect to response or timeout)',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    webhookQueueAgeSeconds: new Gauge({
      name: 'solbound_webhook_queue_age_seconds',
      help: 'How long the oldest due webhook delivery has waited',
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
