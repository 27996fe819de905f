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

const solana = "import { PublicKey } from '@solana/web3.js';\nimport { LiteSVM } from 'litesvm';\nexport { PublicKey, LiteSVM };\n";
const discord = "import { EmbedBuilder } from 'discord.js';\nimport type { APIUser } from 'discord-api-types/v10';\nexport { EmbedBuilder };\nexport type U = APIUser;\n";
const kyselyValues = "import { sql } from 'kysely';\nexport const q = sql`select 1`;\n";
const kyselyTypes = "import type { Kysely, Transaction } from 'kysely';\nexport type T = Kysely<never> | Transaction<never>;\n";
const foreignRepo = "import * as ledger from '../ledger/ledger.repository';\nexport { ledger };\n";
const ownRepo = "import * as repo from './deposits.repository';\nexport { repo };\n";
const publicApis = "import * as ledger from '../ledger/ledger.postings';\nimport * as users from '../users/users.accounts';\nexport { ledger, users };\n";

/** [what, virtual path, code, the boundary errors expected ('rule @line'); [] = allowed]. */
const cases: Array<[string, string, string, string[]]> = [
  ['Solana SDKs outside src/chain', 'src/modules/deposits/deposits.service.ts', solana, ['boundaries/solana @1', 'boundaries/solana @2']],
  ['Solana SDKs in a command', 'commands/wallet/link.ts', solana, ['boundaries/solana @1', 'boundaries/solana @2']],
  ['Solana SDKs in src/chain', 'src/chain/transfers.ts', solana, []],
  ['Solana SDKs in the emulators', 'src/emulators/solana/x.ts', solana, []],
  ['Solana SDKs in a test (the outside world)', 'src/modules/withdrawals/withdrawals.crash.test.ts', solana, []],
  ['discord.js in a service', 'src/modules/tickets/tickets.service.ts', discord, ['boundaries/discord @1', 'boundaries/discord @2']],
  ['discord.js in a repository', 'src/modules/tickets/tickets.repository.ts', discord, ['boundaries/discord @1', 'boundaries/discord @2']],
  ['discord.js in Discord effects', 'src/modules/tickets/tickets.discord.ts', discord, []],
  ['discord.js in views', 'src/modules/tickets/tickets.views.ts', discord, []],
  ['kysely sql in a service', 'src/modules/withdrawals/withdrawals.service.ts', kyselyValues, ['boundaries/kysely @1']],
  ['kysely sql in the job runner', 'src/jobs/job-runner.ts', kyselyValues, ['boundaries/kysely @1']],
  ['kysely types in a service', 'src/modules/withdrawals/withdrawals.service.ts', kyselyTypes, []],
  ['kysely sql in a repository', 'src/modules/withdrawals/withdrawals.repository.ts', kyselyValues, []],
  ['kysely sql in src/db', 'src/db/advisory-lock.ts', kyselyValues, []],
  ["another module's repository in a service", 'src/modules/deposits/deposits.service.ts', foreignRepo, ['boundaries/repository @1']],
  ["another module's repository in a test", 'src/modules/deposits/deposits.service.test.ts', foreignRepo, ['boundaries/repository @1']],
  ['a repository from outside the modules', 'src/http/admin.routes.ts', "import * as t from '../modules/tickets/tickets.repository';\nexport { t };\n", ['boundaries/repository @1']],
  ["the module's own repository", 'src/modules/deposits/deposits.service.ts', ownRepo, []],
  ["other modules' public APIs", 'src/modules/deposits/deposits.service.ts', publicApis, []],
];

describe('import boundaries', () => {
  it.each(cases)('%s (%s)', async (_what, path, code, expected) => {
    expect(await boundaryErrors(path, code)).toEqual(expected);
  });
});
