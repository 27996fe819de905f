// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Import boundaries (DESIGN §3–4). Each boundary is its own rule (the same typescript-eslint no-restricted-imports
 * under four names), because flat config replaces a rule's options per file instead of merging them: with one rule,
 * a file in two groups would silently lose one group's restrictions. A violation reads
 * "boundaries/<name>: … <why and what to do instead>". src/lint-boundaries.test.ts proves each one reports.
 */
const restrictImports = tseslint.plugin.rules['no-restricted-imports'];
const boundariesPlugin = {
  rules: { solana: restrictImports, discord: restrictImports, kysely: restrictImports, repository: restrictImports },
};

const TESTS = ['**/*.test.ts'];

/** @type {import('typescript-eslint').ConfigArray} */
const boundaries = [
  { plugins: { boundaries: boundariesPlugin } },
  {
    // Tests are exempt: they play the outside world (a member's wallet signing, a foreign program), which needs the SDK.
    files: ['**/*.ts'],
    ignores: ['src/chain/**', 'src/emulators/**', ...TESTS],
    rules: {
      'boundaries/solana': [
        'error',
        {
          patterns: [
            {
              group: ['@solana/*', 'litesvm'],
              message: 'Solana SDKs are used only in src/chain (and the emulators); call a src/chain function instead.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.service.ts', '**/*.repository.ts', '**/*.tables.ts', 'src/db/**/*.ts'],
    rules: {
      'boundaries/discord': [
        'error',
        {
          patterns: [
            {
              group: ['discord.js', 'discord-api-types', 'discord-api-types/*', '@discordjs/*'],
              message:
                'Services and repositories know nothing of Discord: take plain data, return domain types, and put Discord effects in the module\'s *.discord.ts / *.views.ts.',
            },
          ],
        },
      ],
    },
  },
  {
    // Types (Kysely<DB>, Transaction<DB>, ColumnType) may travel; queries, sql`` and dialects stay behind repositories.
    // migrations/ are frozen and self-contained; tests, test helpers and scripts set up and inspect data directly.
    files: ['**/*.ts'],
    ignores: ['**/*.repository.ts', 'src/db/**', 'migrations/**', 'src/testing/**', 'scripts/**', ...TESTS],
    rules: {
      'boundaries/kysely': [
        'error',
        {
          paths: [
            {
              name: 'kysely',
              allowTypeImports: true,
              message: 'SQL lives in *.repository.ts (or src/db for Postgres mechanics); add a repository function and call it.',
            },
          ],
        },
      ],
    },
  },
  {
    // Inside a module only its own folder's files reach its repository ('./x.repository'); everything else goes
    // through the owning module's service or public API (ledger.postings, users.accounts). Factories in src/testing
    // build rows directly, and benchmarks time the repository queries themselves.
    files: ['**/*.ts'],
    ignores: ['src/testing/**', 'scripts/bench/**'],
    rules: {
      'boundaries/repository': [
        'error',
        {
          patterns: [
            {
              regex: '^(?!\\./[^/]+$).*\\.repository(\\.[jt]s)?$',
              message:
                "A repository is private to the files beside it: elsewhere use the module's service or public API (e.g. ledger/ledger.postings, users/users.accounts).",
            },
          ],
        },
      ],
    },
  },
];

export default tseslint.config(
  { ignores: ['node_modules/**', '.data/**', 'coverage/**', 'dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // Money code: a forgotten await is a lost write or an unhandled rejection.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false, attributes: false } }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      eqeqeq: ['error', 'always'],
      'no-console': 'error',
    },
  },
  ...boundaries,
);
