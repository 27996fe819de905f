import type { Kysely } from 'kysely';
import type { DB, User, UserRole } from '../../db/schema';
import { UserError } from '../../errors';
import { writeAudit, type AuditActor } from '../guilds/guilds.audit';
import * as repo from './users.repository';

/** The database role that makes an operator (bot-wide authority); no Discord permission ever stands in for it. */
export const OPERATOR_ROLE: UserRole = 'ADMIN';

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

  /**
   * Operators only (the caller checks): blocks the user from moving money or identity (tips both ways, airdrops,
   * rain, deposits, withdrawals, wallet link/verify); tickets stay open to them. `username` creates the row for a
   * member who never used the bot; without it an unknown id is refused. `guildId`: where the command ran (the block
   * itself is bot-wide). Returns the row before and after; one audit
   * row (`user.block`) in the same transaction when anything changed (a new block or a new reason).
   */
  async block(target: { discordId: string; username?: string }, reason: string, actor: AuditActor, guildId: string | null = null) {
    const why = reason.trim().slice(0, BLOCK_REASON_MAX);
    if (!why) throw new UserError('REASON_REQUIRED', 'Give a reason for the block.');
    if (target.discordId === actor.discordId) throw new UserError('SELF_BLOCK', 'You cannot block yourself.');
    return this.db.transaction().execute(async (trx) => {
      if (target.username !== undefined) await repo.ensureId(trx, { discordId: target.discordId, username: target.username });
      const r = await repo.setBlocked(trx, target.discordId, true, why);
      if (!r) throw new UserError('USER_NOT_FOUND', 'No such user.');
      if (!sameBlock(r.before, r.after)) await writeAudit(trx, { actor, guildId, action: 'user.block', target: `user:${target.discordId}`, before: blockState(r.before), after: blockState(r.after), reason: why });
      return r;
    });
  }

  /** Operators only (the caller checks): lifts a block, with one audit row (`user.unblock`) in the same transaction unless there was none. */
  async unblock(target: { discordId: string }, actor: AuditActor, guildId: string | null = null) {
    return this.db.transaction().execute(async (trx) => {
      const r = await repo.setBlocked(trx, target.discordId, false, null);
      if (!r) throw new UserError('USER_NOT_FOUND', 'No such user.');
      if (!sameBlock(r.before, r.after)) await writeAudit(trx, { actor, guildId, action: 'user.unblock', target: `user:${target.discordId}`, before: blockState(r.before), after: blockState(r.after) });
      return r;
    });
  }
}

const blockState = (u: User) => ({ blocked: u.is_blocked, reason: u.blocked_reason });
/** Like role changes, a block that changes nothing (replayed command) leaves no audit row. */
const sameBlock = (a: User, b: User) => a.is_blocked === b.is_blocked && a.blocked_reason === b.blocked_reason;
