import type { Kysely } from 'kysely';
import { newReference } from '../chain/solana-pay';
import type { DB, User, UserRole } from '../db/schema';
import type { Deposit } from '../modules/deposits/deposits.service';
import * as depositsRepo from '../modules/deposits/deposits.repository';
import * as ledger from '../modules/ledger/ledger.postings';
import type { TicketRecord } from '../modules/tickets/tickets.repository';
import * as ticketsRepo from '../modules/tickets/tickets.repository';
import type { TicketPriority } from '../modules/tickets/tickets.tables';
import * as usersRepo from '../modules/users/users.repository';
import type { WalletRegistration } from '../modules/wallets/wallets.tables';
import * as walletsRepo from '../modules/wallets/wallets.repository';
import type { Withdrawal } from '../modules/withdrawals/withdrawals.service';
import * as withdrawalsRepo from '../modules/withdrawals/withdrawals.repository';

/**
 * Test data builders on a real test database (in the spirit of immich's medium-test factory): each inserts one
 * consistent thing with sensible defaults, overridable field by field, through the same repository functions the
 * services use. Money always moves through the ledger's postings API, so every balance has its journal entries and
 * conservation checks hold. Use them for the set-up of a test; the behaviour under test still goes through services.
 */

/** A member as services take it, plus the row id. */
export interface TestUser {
  id: bigint;
  discordId: string;
  username: string;
  row: User;
}

// Discord ids from factories start with 38, away from the hand-written ids tests use; unique per process.
let seq = 0;
const next = () => ++seq;
const SOL = 1_000_000_000n;

export class Factory {
  constructor(private readonly db: Kysely<DB>) {}

  async user(o: { discordId?: string; username?: string; role?: UserRole } = {}): Promise<TestUser> {
    const n = next();
    let row = await usersRepo.upsertByDiscordId(this.db, o.discordId ?? `38${String(n).padStart(16, '0')}`, o.username ?? `member${n}`);
    if (o.role && o.role !== row.role) row = (await usersRepo.setRole(this.db, row.id, o.role))!;
    return { id: row.id, discordId: row.discord_id, username: row.username, row };
  }

  /**
   * Credits `amount` base units (default 10 SOL) as an external inflow with its journal entry, like an admin
   * credit. Returns the journal id.
   */
  balance(user: TestUser, o: { amount?: bigint; currency?: string; key?: string } = {}): Promise<bigint> {
    const { amount = 10n * SOL, currency = 'SOL', key = `factory-credit:${next()}` } = o;
    return this.db.transaction().execute((trx) =>
      ledger.postInflow(trx, { type: 'admin_credit', userId: user.id, currency, amount, idempotencyKey: key, ref: 'test factory' }),
    );
  }

  /** A verified wallet link (registration + chain credential), as a successful /wallet verify leaves it. */
  wallet(user: TestUser, o: { address?: string } = {}): Promise<WalletRegistration> {
    const address = o.address ?? newReference();
    return this.db.transaction().execute(async (trx) => {
      const registration = await walletsRepo.upsertRegistration(trx, {
        userId: user.id,
        address,
        nonce: `factory-nonce-${next()}`,
        messageData: { message: `factory link of ${address}`, envelope: 'raw', signature: 'factory', via: 'command' },
      });
      await walletsRepo.addSolanaCredential(trx, user.id, address);
      return registration;
    });
  }

  /** Records a wallet verification attempt `ageSeconds` ago (rate-limit and cleanup tests). */
  async verifyAttempt(subject: string, o: { ageSeconds?: number } = {}): Promise<void> {
    await this.db
      .insertInto('wallet_verify_attempts')
      .values({ subject, attempted_at: new Date(Date.now() - (o.ageSeconds ?? 0) * 1000) })
      .execute();
  }

  async ticket(
    user: TestUser,
    o: Partial<{ guildId: string | null; subject: string; description: string; category: string; priority: TicketPriority; createdAt: Date }> = {},
  ): Promise<TicketRecord> {
    const now = o.createdAt ?? new Date();
    const id = await ticketsRepo.insertTicket(this.db, {
      user_id: user.id,
      discord_id: user.discordId,
      guild_id: o.guildId === undefined ? '600000000000000001' : o.guildId,
      subject: o.subject ?? 'Deposit missing',
      description: o.description ?? 'I sent 1 SOL an hour ago',
      category: o.category ?? 'general',
      priority: o.priority ?? 'normal',
      source_interaction_id: null,
      last_activity_at: now,
      created_at: now,
    });
    return (await ticketsRepo.findById(this.db, id))!;
  }

  /** An open deposit request (what /deposit creates), to the given treasury `recipient`. */
  async deposit(
    user: TestUser,
    o: { recipient: string; amount?: bigint; currency?: string; reference?: string; expiresInSeconds?: number },
  ): Promise<Deposit> {
    const row = await depositsRepo.insertDeposit(this.db, {
      userId: user.id,
      currency: o.currency ?? 'SOL',
      expectedAmount: o.amount ?? SOL,
      reference: o.reference ?? newReference(),
      recipient: o.recipient,
      interactionId: `factory-deposit-${next()}`,
      expiresAt: new Date(Date.now() + (o.expiresInSeconds ?? 3600) * 1000),
    });
    return row!;
  }

  /**
   * A withdrawal as a request leaves it: the row plus the debit of amount + fee with its journal entry, in one
   * transaction. The member must hold the funds (give them a `balance` first); otherwise this throws.
   */
  async withdrawal(
    user: TestUser,
    o: { amount?: bigint; fee?: bigint; currency?: string; destination?: string; status?: 'requested' | 'approved' } = {},
  ): Promise<Withdrawal> {
    const { amount = SOL, fee = 0n, currency = 'SOL', status = 'approved' } = o;
    return this.db.transaction().execute(async (trx) => {
      const row = (await withdrawalsRepo.insertWithdrawal(trx, {
        userId: user.id,
        currency,
        amount,
        fee,
        destination: o.destination ?? newReference(),
        status,
        idempotencyKey: `factory-withdrawal-${next()}`,
      }))!;
      const debited = await ledger.postOutflow(trx, {
        type: 'withdrawal',
        userId: user.id,
        currency,
        amount: amount + fee,
        idempotencyKey: `withdraw:${row.id}`,
        ref: `withdrawal:${row.id} to ${row.destination}`,
      });
      if (!debited.ok) throw new Error(`factory withdrawal: ${user.username} holds ${debited.balance} ${currency}, needs ${amount + fee}`);
      return row;
    });
  }
}
