// Flat config: typescript-eslint with type-aware rules over everything we ship and test.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';

// Layers point one way (CLAUDE.md), top to bottom:
//   cmd/ → process roots (src/server.ts, src/scheduler/process.ts, src/dev/) → src/http/ | src/scheduler/
//   → domain (src/jobs/, src/schedules/, src/auth/, src/webhooks/) → src/sql/ | src/queue/ → src/db/
//   → base (src/lib/, config.ts, errors.ts, logger.ts, version.ts, src/observability/).
// A module may import its own layer and the layers below it, nothing above. http and scheduler may
// not import each other. Tests and bench may import anything. Patterns match the import specifier,
// which is relative (`../http/app.ts`), hence the leading `**/`; a file inside a folder imports its
// neighbours as `./x.ts`, which no pattern matches.
const LAYER = {
  cmd: ['**/cmd/**'],
  roots: ['**/server.ts', '**/scheduler/process.ts', '**/dev/**'],
  http: ['**/http/**'],
  scheduler: ['**/scheduler/**'],
  domain: ['**/jobs/**', '**/schedules/**', '**/auth/**', '**/webhooks/**'],
  sql: ['**/sql/**'],
  queue: ['**/queue/**'],
  db: ['**/db/**'],
};
/** A no-restricted-imports pattern group: `who` may not import these layers. */
const forbid = (who, layers, extra = {}) => ({
  group: layers.flatMap((l) => LAYER[l]),
  message: `Layers point one way (see eslint.config.js): ${who} may not import ${layers.join(', ')}.`,
  ...extra,
});
/** One config object per layer; `patterns` lists everything it may not import. */
const layer = (files, ...patterns) => ({
  files,
  rules: { 'no-restricted-imports': ['error', { patterns }] },
});
const BASE = [
  'src/lib/**',
  'src/config.ts',
  'src/errors.ts',
  'src/logger.ts',
  'src/version.ts',
  'src/observability/**',
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.data/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['eslint.config.js'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'Read configuration through src/config.ts only.' },
      ],
    },
  },
  {
    files: ['src/config.ts', 'test/**', 'bench/**', 'vitest.config.ts'],
    rules: { 'no-restricted-properties': 'off' },
  },
  {
    files: ['test/**', 'bench/**'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  layer(['src/server.ts', 'src/dev/**'], forbid('a process root', ['cmd'])),
  layer(
    ['src/scheduler/process.ts'],
    forbid('a process root', ['cmd']),
    // The scheduler runs the same operations listener (/metrics, /healthz, /readyz) as the API server.
    // (A regex: a gitignore-style `!` cannot re-include a file whose folder `**/http/**` excludes.)
    {
      regex: '(^|/)http/(?!routes/health\\.ts$)',
      message:
        'Layers point one way (see eslint.config.js): src/scheduler/process.ts may import only routes/health.ts of http.',
    },
  ),
  layer(['src/http/**'], forbid('src/http', ['cmd', 'roots', 'scheduler'])),
  {
    ...layer(
      ['src/scheduler/**'],
      forbid('src/scheduler', ['cmd', 'roots', 'http']),
      // Its neighbour process.ts is the scheduler process's root, above the rest of the folder.
      {
        regex: '^\\./process\\.ts$',
        message: 'Layers point one way: src/scheduler/process.ts is a process root.',
      },
    ),
    ignores: ['src/scheduler/process.ts'],
  },
  layer(
    ['src/jobs/**', 'src/schedules/**', 'src/auth/**', 'src/webhooks/**'],
    forbid('the domain', ['cmd', 'roots', 'http', 'scheduler']),
  ),
  layer(
    ['src/sql/**', 'src/queue/**'],
    forbid('src/sql and src/queue', ['cmd', 'roots', 'http', 'scheduler']),
    // Type-only imports from the domain are allowed: rows are typed with the domain's vocabulary
    // (JobStatus, Outcome, RetryPolicy from src/jobs), which is erased at compile time, so no module
    // of the domain is loaded from below. The types stay next to the code they describe (JobStatus is
    // derived from JOB_STATUSES, the transition table's keys); a copy lower down could drift from it.
    forbid('src/sql and src/queue', ['domain'], { allowTypeImports: true }),
  ),
  layer(
    ['src/queue/mail.ts'],
    // Pure definitions (queue name, options, payload) that the migrate step in src/db reads.
    { regex: '^\\.', message: 'src/queue/mail.ts holds definitions only: it imports nothing from src.' },
  ),
  layer(
    ['src/db/**'],
    forbid('src/db', ['cmd', 'roots', 'http', 'scheduler', 'domain', 'sql']),
    // Migrating creates the mail queue, from its definition (src/queue/mail.ts imports nothing).
    forbid('src/db', ['queue'], { group: ['**/queue/**', '!**/queue/mail.ts'] }),
  ),
  layer(
    BASE,
    forbid('the base layer', ['cmd', 'roots', 'http', 'scheduler', 'domain', 'sql', 'queue', 'db']),
  ),
  {
    // No import cycles in what ships (tests and bench import anything, the way a root does): in a
    // cycle, one module runs before the other has defined its exports. The rule follows value imports
    // only (`import type` is erased), through the node resolver: every specifier names its file.
    files: ['src/**', 'cmd/**', 'web/src/**'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createNodeResolver()],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts', '.tsx'] },
      'import-x/extensions': ['.ts', '.tsx', '.js'],
    },
    rules: { 'import-x/no-cycle': ['error', { ignoreExternal: true }] },
  },
  { files: ['eslint.config.js'], ...tseslint.configs.disableTypeChecked },
);
