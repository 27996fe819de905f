import { sql, type Kysely } from 'kysely';

// Frozen: never import application code here.
//
// Payout velocity limits and blocked users (issue 12).
// - withdrawals.released_at: when the hourly outflow cap let the payout go (set once, before its first transaction
//   is signed). The cap sums released, not refunded payouts of the last hour per currency.
// - withdrawals_user_window_idx: the rolling per-user, per-currency total that decides whether a request needs
//   approval, and the per-user cooldown (latest request of the user).
// - users.blocked_reason / blocked_at: why and since when an operator blocked the user (is_blocked already exists).

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE withdrawals ADD COLUMN released_at timestamptz;
    CREATE INDEX withdrawals_released_idx ON withdrawals (currency, released_at) WHERE released_at IS NOT NULL;
    CREATE INDEX withdrawals_user_window_idx ON withdrawals (user_id, currency, created_at);

    ALTER TABLE users ADD COLUMN blocked_reason text, ADD COLUMN blocked_at timestamptz;
  `.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE users DROP COLUMN blocked_reason, DROP COLUMN blocked_at;
    DROP INDEX withdrawals_user_window_idx;
    DROP INDEX withdrawals_released_idx;
    ALTER TABLE withdrawals DROP COLUMN released_at;
  `.execute(db);
}
