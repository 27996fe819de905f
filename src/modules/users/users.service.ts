import type { Kysely } from 'kysely';
import type { DB, User, UserRole } from '../../db/schema';
import * as repo from './users.repository';

export interface UserProfile {
  user: User;
  credentials: Awaited<ReturnType<typeof repo.listCredentials>>;
}

export class UsersService {
  constructor(private readonly db: Kysely<DB>) {}

  /** The user row for a Discord account, created on first sight. */
  ensure(discordId: string, username: string): Promise<User> {
    return repo.upsertByDiscordId(this.db, discordId, username);
  }

  findByDiscordId(discordId: string): Promise<User | undefined> {
    return repo.findByDiscordId(this.db, discordId);
  }

  async profile(discordId: string): Promise<UserProfile | undefined> {
    const user = await repo.findByDiscordId(this.db, discordId);
    if (!user) return undefined;
    return { user, credentials: await repo.listCredentials(this.db, user.id) };
  }

  async roleOf(discordId: string): Promise<UserRole> {
    return (await repo.findByDiscordId(this.db, discordId))?.role ?? 'USER';
  }

  setRole(userId: bigint, role: UserRole): Promise<User | undefined> {
    return repo.setRole(this.db, userId, role);
  }
}
