import type { AppModule } from '../app-module';
import badges from './badges/badges.module';
import billing from './billing/billing.module';
import deposits from './deposits/deposits.module';
import dms from './dms/dms.module';
import guilds from './guilds/guilds.module';
import ledger from './ledger/ledger.module';
import quota from './quota/quota.module';
import solvency from './solvency/solvency.module';
import tickets from './tickets/tickets.module';
import users from './users/users.module';
import wallets from './wallets/wallets.module';
import webhooks from './webhooks/webhooks.module';
import withdrawals from './withdrawals/withdrawals.module';

/** Every module the app runs; each brings its routes, jobs and Discord effects through its `<domain>.module.ts`. */
export const appModules: readonly AppModule[] = [guilds, users, ledger, wallets, deposits, withdrawals, solvency, tickets, badges, quota, webhooks, billing, dms];
