import { Kysely, PostgresDialect, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../config';
import { createPool } from '../../db/database';
import type { DB } from '../../db/schema';
import { createTestDatabase, type TestDatabase } from '../../testing/test-db';
import { LedgerService, type ApiTipKey, type DiscordUserRef } from './ledger.service';

// Migration 2026_11_28_190100: a tip is one statement. ledger_tip() itself refuses blocked members and claims the
// partner API's Idempotency-Key, with the errors the separate checks used to give.

let t: TestDatabase;
let counted: Kysely<DB>;
const statements: string[] = [];
let ledger: LedgerService;
let seq = 0;
const user = (name: string): DiscordUserRef => ({ discordId: `84${String(++seq).padStart(16, '0')}`, username: name });
const admin = { discordId: '100000000000000001', username: 'ops' };

beforeAll(async () => {
  t = await createTestDatabase();
  counted = new Kysely<DB>({
    dialect: new PostgresDialect({ pool: createPool(t.url, 8) }),
    log: (e) => {
      statements.push(e.query.sql); // failed statements too
    },
  });
  ledger = new LedgerService(counted, parseConfig({}));
});
afterAll(async () => {
  await counted.destroy();
  await t.drop();
});

async function fund(u: DiscordUserRef, amount: string) {
  await ledger.adminCredit({ idempotencyKey: `fund-${u.discordId}-${++seq}`, user: u, amount, actor: admin });
}

/** Runs `fn` and returns the SQL statements it sent. */
async function sent(fn: () => Promise<unknown>): Promise<{ result: unknown; statements: string[] }> {
  statements.length = 0;
  const result = await fn().catch((err: unknown) => err);
  return { result, statements: [...statements] };
}

const state = async () => ({
  journal: (await sql<{ n: bigint }>`select count(*) as n from journal`.execute(t.db)).rows[0]!.n,
  users: (await sql<{ n: bigint }>`select count(*) as n from users`.execute(t.db)).rows[0]!.n,
  balances: (await sql`select user_id, currency, amount from account_balances order by 1, 2`.execute(t.db)).rows,
  keys: (await sql`select environment_id, key, body_hash from api_idempotency_keys order by 1, 2`.execute(t.db)).rows,
});

describe('a tip is one round trip', () => {
  it('sends one statement, and refuses blocked senders and receivers in it with the usual errors', async () => {
    const [ann, bob, eve] = [user('ann'), user('bob'), user('eve')];
    await fund(ann, '5');
    await fund(eve, '5');
    const ok = await sent(() => ledger.tip({ interactionId: `ot-${++seq}`, sender: ann, receivers: [bob], amount: '1' }));
    expect(ok.result).toMatchObject({ replayed: false, total: 1_000_000_000n });
    expect(ok.statements).toHaveLength(1);
    expect(ok.statements[0]).toMatch(/ledger_tip\(/);

    await t.db.updateTable('users').set({ is_blocked: true }).where('discord_id', '=', bob.discordId).execute();
    const before = await state();
    const toBlocked = await sent(() => ledger.tip({ interactionId: `ot-${++seq}`, sender: ann, receivers: [user('carl'), { ...bob, username: 'bobby' }], amount: '2' }));
    expect(toBlocked.result).toMatchObject({ code: 'RECIPIENT_BLOCKED', message: '"bobby" cannot receive money: their account is blocked.' });
    expect(toBlocked.statements).toHaveLength(1);

    await t.db.updateTable('users').set({ is_blocked: true }).where('discord_id', '=', eve.discordId).execute();
    const fromBlocked = await sent(() => ledger.tip({ interactionId: `ot-${++seq}`, sender: eve, receivers: [bob], amount: '1' }));
    // The sender's own block is named first, as refuseBlocked() does.
    expect(fromBlocked.result).toMatchObject({ code: 'USER_BLOCKED' });
    expect(fromBlocked.statements).toHaveLength(1);
    // Nothing moved, and the unknown receiver of the refused tip was not created either.
    expect(await state()).toEqual(before);
  });

  it("claims the API's Idempotency-Key in the same statement: replay, another body, unknown receiver, failure frees the key", async () => {
    const [owner, friend] = [user('owner'), user('friend')];
    await fund(owner, '1');
    await fund(friend, '0.000000001'); // the friend is known to the bot
    const key = (k: string, body: string): ApiTipKey => ({ environmentId: 77n, key: k, bodyHash: body });
    const apiTip = (k: ApiTipKey, amount: string, to: DiscordUserRef = { discordId: friend.discordId, username: '' }) =>
      ledger.tip({ interactionId: `api:77:${k.key}`, sender: owner, receivers: [to], amount, apiKey: k });

    const first = await sent(() => apiTip(key('k-1', 'body-a'), '0.25'));
    expect(first.result).toMatchObject({ replayed: false, total: 250_000_000n });
    expect(first.statements).toHaveLength(1);
    expect(await apiTip(key('k-1', 'body-a'), '0.25')).toMatchObject({ replayed: true, total: 250_000_000n });
    let before = await state();
    await expect(apiTip(key('k-1', 'body-b'), '0.5')).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
    await expect(apiTip(key('k-2', 'body-c'), '0.1', { discordId: '849999999999999999', username: '' })).rejects.toMatchObject({
      code: 'UNKNOWN_USER',
      message: 'Member 849999999999999999 is not known to Solbound (they must have used the bot).',
    });
    // A tip that fails leaves no claim behind: the client may fix the body and reuse the key.
    await expect(apiTip(key('k-3', 'body-d'), '100')).rejects.toMatchObject({ code: 'INSUFFICIENT_FUNDS' });
    expect(await state()).toEqual(before);
    expect(await apiTip(key('k-3', 'body-e'), '0.1')).toMatchObject({ replayed: false, total: 100_000_000n });

    // Concurrent duplicates: the second waits on the key, then replays the first; money moves once.
    before = await state();
    const both = await Promise.all([apiTip(key('k-4', 'body-f'), '0.1'), apiTip(key('k-4', 'body-f'), '0.1')]);
    expect(both.map((r) => r.replayed).sort()).toEqual([false, true]);
    expect(both[0].tipIds).toEqual(both[1].tipIds);
    expect((await state()).journal).toBe(before.journal + 1n);
    expect(await ledger.balance(owner.discordId, 'SOL')).toBe(1_000_000_000n - 250_000_000n - 100_000_000n - 100_000_000n);
  });
});
