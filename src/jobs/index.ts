import airdropExpiry from './airdrop-expiry.job';
import walletNonceCleanup from '../modules/wallets/nonce-cleanup.job';
import ticketsAutoClose from '../modules/tickets/tickets-auto-close.job';
import depositWatch from '../modules/deposits/deposit-watch.job';
import withdrawalProcessor from '../modules/withdrawals/withdrawal-processor.job';
import solvencyCheck from '../modules/solvency/solvency-check.job';
import ledgerFold from '../modules/ledger/ledger-fold.job';
import type { Job } from './job';

/** Every job the app schedules. Modules add theirs here. */
export const allJobs: Job[] = [airdropExpiry, walletNonceCleanup, ticketsAutoClose, depositWatch, withdrawalProcessor, solvencyCheck, ledgerFold];
