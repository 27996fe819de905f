import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateToLatest } from '../../db/migrator';
import { migrateToBefore } from '../../testing/migrate-to';
import { createTestContext } from '../../testing/test-context';
import { createTestDatabase, type TestDatabase } from '../../testing/test-db';

// Migration 2026_11_28_200000_chain_credits on a database with credits written before it: every credited deposit
// and chain invoice payment is claimed, and a signature both had credited (the old race) keeps the deposit's claim.

const MIGRATION = '2026_11_28_200000_chain_credits';
let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t.drop());

const sig = (s: string) => s.padEnd(64, 'x');

describe(`migration ${MIGRATION}`, () => {
  it('backfills chain_credits from credited deposits and chain invoice payments, up and down', async () => {
    await migrateToBefore(t.db, MIGRATION);

    const ctx = createTestContext(t);
    const staff = { discordId: '970000000000000002', via: 'discord' as const };
    await ctx.services.billing.catalog.createPlan(staff, { guildId: '970000000000000001', code: 'g', name: 'G', roleId: '970000000000000003', prices: [{ cycle: 'month', price: '1', currency: 'SOL' }] });
    const user = { discordId: '970000000000000010', username: 'm' };
    const checkout = await ctx.services.billing.subscribe({ interactionId: 'mig-1', guildId: '970000000000000001', user, plan: 'g', cycle: 'month' });
    const userId = checkout.invoice.user_id;
    const deposit = (n: number, signature: string | null) =>
      sql`insert into deposits (user_id, currency, expected_amount, reference, recipient, status, signature, received_amount, interaction_id, expires_at, credited_at)
        values (${userId}, 'SOL', 5, ${'ref' + n}, 'treasury', ${signature ? 'credited' : 'pending'}, ${signature}, ${signature ? 5 : null}, ${'dep-' + n}, now(), ${signature ? sql`now()` : null})`.execute(t.db);
    const payment = (key: string, signature: string | null) =>
      sql`insert into billing_invoice_payments (invoice_id, user_id, source, payment_key, signature, currency, amount, applied_amount, credited_amount)
        values (${checkout.invoice.id}, ${userId}, ${signature ? 'chain' : 'balance'}, ${key}, ${signature}, 'SOL', 5, 0, 5)`.execute(t.db);
    await deposit(1, sig('dep-only'));
    await deposit(2, null);
    await deposit(3, sig('both'));
    await payment(sig('inv-only'), sig('inv-only'));
    await payment(sig('both'), sig('both'));
    await payment('balance:x', null);

    await migrateToLatest(t.db);
    const rows = await sql<{ signature: string; purpose: string }>`select signature, purpose from chain_credits order by signature`.execute(t.db);
    expect(rows.rows).toEqual([
      { signature: sig('both'), purpose: 'deposit' },
      { signature: sig('dep-only'), purpose: 'deposit' },
      { signature: sig('inv-only'), purpose: 'invoice' },
    ]);

    await migrateToBefore(t.db, MIGRATION);
    const left = await sql<{ n: number }>`select count(*)::int as n from pg_tables where tablename = 'chain_credits'`.execute(t.db);
    expect(left.rows[0]!.n).toBe(0);
    await migrateToLatest(t.db);
  });
});
