import type { Kysely } from 'kysely';
import type { Config } from './config';
import type { DB } from './db/schema';
import type { Logger } from './logger';
import type { UsersService } from './modules/users/users.service';

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
  users: UsersService;
}
