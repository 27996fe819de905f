import type { Kysely } from 'kysely';
import type { DB, User, UserRole } from '../../db/schema';
import { UserError } from '../../errors';
import { writeAudit, type AuditActor } from '../guilds/guilds.audit';
import * as repo from './users.repository';

/** The database role that makes an operator (bot-wide authority); no Discord permission ever stands in for it. */
export const OPERATOR_ROLE: UserRole = 'ADMIN';

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

  async isOperator(discordId: string): Promise<boolean> {
    return (await this.roleOf(discordId)) === OPERATOR_ROLE;
  }

  /**
   * Changes a user's database role (operators are ADMIN) with one audit row in the same transaction; creating the
   * user row if this Discord id was never seen. Setting the role it already has changes and records nothing.
   */
  async changeRole(discordId: string, role: UserRole, actor: AuditActor, reason?: string | null): Promise<{ user: User; changed: boolean }> {
    if (!/^\d{15,22}$/.test(discordId)) throw new UserError('BAD_DISCORD_ID', 'A Discord user id is 15-22 digits.');
    return this.db.transaction().execute(async (tx) => {
      const id = await repo.ensureId(tx, { discordId, username: discordId });
      const before = (await repo.lockById(tx, id))!;
      if (before.role === role) return { user: before, changed: false };
      const user = (await repo.setRole(tx, id, role))!;
      await writeAudit(tx, { actor, guildId: null, action: 'user.role', target: `user:${discordId}`, before: { role: before.role }, after: { role }, reason: reason ?? null });
      return { user, changed: true };
    });
  }

  /** BOT_OPERATOR_IDS at start: makes each listed id an operator (audited as `config`); never demotes anyone. */
  async seedOperators(discordIds: readonly string[]): Promise<string[]> {
    const promoted: string[] = [];
    for (const id of discordIds) {
      const r = await this.changeRole(id, OPERATOR_ROLE, { discordId: null, via: 'config' }, 'BOT_OPERATOR_IDS');
      if (r.changed) promoted.push(id);
    }
    return promoted;
  }
}
