import type { Kysely } from 'kysely';
import type { Config } from './config';
import type { DB } from './db/schema';
import type { Logger } from './logger';
import type { UsersService } from './modules/users/users.service';
import type { TicketsService } from './modules/tickets/tickets.service';
import type { WalletsService } from './modules/wallets/wallets.service';
import type { LedgerService } from './modules/ledger/ledger.service';
import type { ChainService } from './chain/chain.service';
import type { DepositsService } from './modules/deposits/deposits.service';
import type { SolvencyService } from './modules/solvency/solvency.service';
import type { WithdrawalsService } from './modules/withdrawals/withdrawals.service';
import type { BadgesService } from './modules/badges/badges.service';

/**
 * What commands, HTTP routes and jobs get: configuration, a logger, the database and the domain services.
 * Services are added here as modules land; commands never touch `db` directly (they call a service).
 */
export interface AppContext {
  config: Config;
  log: Logger;
  db: Kysely<DB>;
  services: Services;
}

export interface Services {
  badges: BadgesService;
  chain: ChainService;
  deposits: DepositsService;
  ledger: LedgerService;
  solvency: SolvencyService;
  tickets: TicketsService;
  users: UsersService;
  wallets: WalletsService;
  withdrawals: WithdrawalsService;
}
