import type { Kysely } from 'kysely';
import type { DB, User, UserRole } from '../../db/schema';
import { UserError } from '../../errors';
import * as repo from './users.repository';

const BLOCK_REASON_MAX = 200;

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

  /**
   * Operators only (the caller checks): blocks the user from moving money or identity (tips both ways, airdrops,
   * rain, deposits, withdrawals, wallet link/verify); tickets stay open to them. `username` creates the row for a
   * member who never used the bot; without it an unknown id is refused. Returns the row before and after.
   */
  async block(target: { discordId: string; username?: string }, reason: string, actor: { discordId: string }) {
    const why = reason.trim().slice(0, BLOCK_REASON_MAX);
    if (!why) throw new UserError('REASON_REQUIRED', 'Give a reason for the block.');
    if (target.discordId === actor.discordId) throw new UserError('SELF_BLOCK', 'You cannot block yourself.');
    return this.db.transaction().execute(async (trx) => {
      if (target.username !== undefined) await repo.ensureId(trx, { discordId: target.discordId, username: target.username });
      const r = await repo.setBlocked(trx, target.discordId, true, why);
      if (!r) throw new UserError('USER_NOT_FOUND', 'No such user.');
      // AUDIT(i12-guilds): users.block — write the audit row here, in this transaction
      // (actor: actor.discordId, target: target.discordId, before: r.before.is_blocked/blocked_reason, after: r.after…, reason: why).
      return r;
    });
  }

  /** Operators only (the caller checks): lifts a block. `_actor` is who did it, for the audit row. */
  async unblock(target: { discordId: string }, _actor: { discordId: string }) {
    return this.db.transaction().execute(async (trx) => {
      const r = await repo.setBlocked(trx, target.discordId, false, null);
      if (!r) throw new UserError('USER_NOT_FOUND', 'No such user.');
      // AUDIT(i12-guilds): users.unblock — write the audit row here, in this transaction
      // (actor: _actor.discordId, target: target.discordId, before: r.before.is_blocked/blocked_reason, after: r.after…).
      return r;
    });
  }
}
