import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { beforeAll, describe, expect, it } from 'vitest';

/**
 * The import boundaries in eslint.config.js, exercised on in-memory snippets placed at virtual paths: each
 * deliberate violation must be reported by its rule, and the allowed neighbour must not be. Type-aware rules are
 * switched off because the virtual files are not in the TypeScript project; the boundary rules need no types.
 */
const root = fileURLToPath(new URL('..', import.meta.url));
let eslint: ESLint;

beforeAll(() => {
  eslint = new ESLint({ cwd: root, overrideConfig: [tseslint.configs.disableTypeChecked] });
});

async function boundaryErrors(path: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: `${root}${path}` });
  return result!.messages.filter((m) => m.ruleId?.startsWith('boundaries/')).map((m) => `${m.ruleId} @${m.line}`);
}

describe('import boundaries', () => {
  it('@solana/* and litesvm only in src/chain and src/emulators (tests exempt)', async () => {
    const code = "import { PublicKey } from '@solana/web3.js';\nimport { LiteSVM } from 'litesvm';\nexport { PublicKey, LiteSVM };\n";
    expect(await boundaryErrors('src/modules/deposits/deposits.service.ts', code)).toEqual(['boundaries/solana @1', 'boundaries/solana @2']);
    expect(await boundaryErrors('commands/wallet/link.ts', code)).toEqual(['boundaries/solana @1', 'boundaries/solana @2']);
    expect(await boundaryErrors('src/chain/transfers.ts', code)).toEqual([]);
    expect(await boundaryErrors('src/emulators/solana/x.ts', code)).toEqual([]);
    expect(await boundaryErrors('src/modules/withdrawals/withdrawals.crash.test.ts', code)).toEqual([]);
  });

  it('discord.js never in services, repositories or table types', async () => {
    const code = "import { EmbedBuilder } from 'discord.js';\nimport type { APIUser } from 'discord-api-types/v10';\nexport { EmbedBuilder };\nexport type U = APIUser;\n";
    expect(await boundaryErrors('src/modules/tickets/tickets.service.ts', code)).toEqual(['boundaries/discord @1', 'boundaries/discord @2']);
    expect(await boundaryErrors('src/modules/tickets/tickets.repository.ts', code)).toEqual(['boundaries/discord @1', 'boundaries/discord @2']);
    expect(await boundaryErrors('src/modules/tickets/tickets.discord.ts', code)).toEqual([]);
    expect(await boundaryErrors('src/modules/tickets/tickets.views.ts', code)).toEqual([]);
  });

  it('kysely values (sql, query builders) only in repositories and src/db; types may travel', async () => {
    const values = "import { sql } from 'kysely';\nexport const q = sql`select 1`;\n";
    const types = "import type { Kysely, Transaction } from 'kysely';\nexport type T = Kysely<never> | Transaction<never>;\n";
    expect(await boundaryErrors('src/modules/withdrawals/withdrawals.service.ts', values)).toEqual(['boundaries/kysely @1']);
    expect(await boundaryErrors('src/jobs/job-runner.ts', values)).toEqual(['boundaries/kysely @1']);
    expect(await boundaryErrors('src/modules/withdrawals/withdrawals.service.ts', types)).toEqual([]);
    expect(await boundaryErrors('src/modules/withdrawals/withdrawals.repository.ts', values)).toEqual([]);
    expect(await boundaryErrors('src/db/advisory-lock.ts', values)).toEqual([]);
  });

  it("no module imports another module's repository; its public API is fine", async () => {
    const foreign = "import * as ledger from '../ledger/ledger.repository';\nexport { ledger };\n";
    const own = "import * as repo from './deposits.repository';\nexport { repo };\n";
    const api = "import * as ledger from '../ledger/ledger.postings';\nimport * as users from '../users/users.accounts';\nexport { ledger, users };\n";
    expect(await boundaryErrors('src/modules/deposits/deposits.service.ts', foreign)).toEqual(['boundaries/repository @1']);
    expect(await boundaryErrors('src/modules/deposits/deposits.service.test.ts', foreign)).toEqual(['boundaries/repository @1']);
    expect(await boundaryErrors('src/http/admin.routes.ts', "import * as t from '../modules/tickets/tickets.repository';\nexport { t };\n")).toEqual([
      'boundaries/repository @1',
    ]);
    expect(await boundaryErrors('src/modules/deposits/deposits.service.ts', own)).toEqual([]);
    expect(await boundaryErrors('src/modules/deposits/deposits.service.ts', api)).toEqual([]);
  });
});
