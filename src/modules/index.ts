import type { AppModule } from '../app-module';
import deposits from './deposits/deposits.module';
import ledger from './ledger/ledger.module';
import quota from './quota/quota.module';
import solvency from './solvency/solvency.module';
import tickets from './tickets/tickets.module';
import wallets from './wallets/wallets.module';
import withdrawals from './withdrawals/withdrawals.module';

/** Every module the app runs; each brings its routes, jobs and Discord effects through its `<domain>.module.ts`. */
export const appModules: readonly AppModule[] = [ledger, wallets, deposits, withdrawals, solvency, tickets, quota];
