import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../app-context';
import { Factory } from './factories';
import { createTestContext } from './test-context';
import { createTestDatabase, type TestDatabase } from './test-db';

const SOL = 1_000_000_000n;
let t: TestDatabase;
let ctx: AppContext;
let factory: Factory;
beforeAll(async () => {
  t = await createTestDatabase();
  [ctx, factory] = [createTestContext(t), new Factory(t.db)];
});
afterAll(() => t.drop());

/** Per currency: Σ balances = Σ journal inflows − Σ journal outflows (what every factory must preserve). */
async function journalMatchesBalances() {
  const balances = await t.db.selectFrom('balances').select((eb) => ['currency', eb.fn.sum<string>('amount').as('n')]).groupBy('currency').execute();
  const journal = await t.db.selectFrom('journal').select(['currency', 'amount', 'from_user_id', 'to_user_id']).execute();
  const net = new Map<string, bigint>();
  for (const j of journal) net.set(j.currency, (net.get(j.currency) ?? 0n) + (j.to_user_id ? j.amount : 0n) - (j.from_user_id ? j.amount : 0n));
  expect(Object.fromEntries(balances.map((b) => [b.currency, BigInt(b.n)]))).toEqual(Object.fromEntries(net));
}

describe('test factories', () => {
  it('build rows the services see as their own, with the journal consistent', async () => {
    const ann = await factory.user({ username: 'ann', role: 'SUPPORT' });
    expect(await ctx.services.users.roleOf(ann.discordId)).toBe('SUPPORT');

    await factory.balance(ann, { amount: 3n * SOL });
    await factory.balance(ann, { amount: 7_000_000n, currency: 'USDC' });
    const w = await factory.withdrawal(ann, { amount: SOL, fee: 1000n, status: 'requested' });
    expect(w).toMatchObject({ status: 'requested', amount: SOL, fee: 1000n, user_id: ann.id });
    expect(await ctx.services.ledger.balance(ann.discordId, 'SOL')).toBe(2n * SOL - 1000n);
    await expect(factory.withdrawal(ann, { amount: 5n * SOL })).rejects.toThrow(/holds/);
    await journalMatchesBalances();

    const { address } = await factory.wallet(ann);
    expect((await ctx.services.wallets.status(ann.discordId)).wallet?.address).toBe(address);

    const ticket = await factory.ticket(ann, { priority: 'urgent' });
    expect(await ctx.services.tickets.get(ticket.id, { discordId: ann.discordId, username: ann.username, guildId: ticket.guild_id, isStaff: false })).toMatchObject({ id: ticket.id, priority: 'urgent', status: 'open' });

    const deposit = await factory.deposit(ann, { recipient: address, amount: 2n * SOL });
    expect(deposit).toMatchObject({ user_id: ann.id, expected_amount: 2n * SOL, status: 'pending' });
  });
});
