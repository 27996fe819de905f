import airdropExpiry from './airdrop-expiry.job';
import walletNonceCleanup from '../modules/wallets/nonce-cleanup.job';
import ticketsAutoClose from '../modules/tickets/tickets-auto-close.job';
import depositWatch from '../modules/deposits/deposit-watch.job';
import withdrawalProcessor from '../modules/withdrawals/withdrawal-processor.job';
import solvencyCheck from '../modules/solvency/solvency-check.job';
import badgeProcessor from '../modules/badges/badge-processor.job';
import badgeSync from '../modules/badges/badge-sync.job';
import type { Job } from './job';

/** Every job the app schedules. Modules add theirs here. */
export const allJobs: Job[] = [airdropExpiry, walletNonceCleanup, ticketsAutoClose, depositWatch, withdrawalProcessor, solvencyCheck, badgeProcessor, badgeSync];
