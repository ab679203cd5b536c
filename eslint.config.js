// ESLint (flat config): typescript-eslint's type-aware rules over every .ts file the tsconfig includes (the
// sources, scripts, bench and tests), plain ESLint over the built-in template's browser script. Formatting is
// prettier's (.prettierrc.json), not ESLint's. `npm run lint` runs both; `npm run format` rewrites.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  {
    ignores: [
      'node_modules/',
      // The Helm chart (Go templates) and generated docs (docs/config.md is written by scripts/config-docs.ts).
      'deploy/',
      'docs/',
      // Vendored Kubernetes JSON schemas the chart tests validate against.
      'test/deploy/schemas/',
      // Run output (.gitignore).
      'recordings/',
      '.cache/',
      'tmp/',
      '.scratch/',
    ],
  },
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // An unawaited promise is either awaited, or given a `.catch` that logs, or marked `void` where
      // fire-and-forget is meant and its rejection is handled. node:test's test(), describe(), it() and suite()
      // return promises the runner itself awaits (and reports), so calling them bare is the documented use.
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] }] },
      ],
      // A promise where a void callback is expected (an event handler, forEach) loses its rejection.
      '@typescript-eslint/no-misused-promises': 'error',
      // Type-only imports are marked (verbatimModuleSyntax already requires it of types; this also catches a class
      // or enum used only as a type). House style, as the code has it: `import type { A }` when every name is a
      // type, `import { a, type B }` when mixed. inline-type-imports writes the mixed form, and
      // no-import-type-side-effects turns an all-inline `import { type A }` into `import type { A }`.
      '@typescript-eslint/consistent-type-imports': ['error', { prefer: 'type-imports', fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-import-type-side-effects': 'error',
      // `_`-prefixed parameters and destructured names are unused on purpose (a handler's fixed signature, a key
      // dropped with `{ key: _, ...rest }`).
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
      // Off: `async` without `await` is deliberate here. Fastify plugins and route handlers are async functions by
      // Fastify's contract, and an implementation of a Promise-returning interface member (a storage back-end,
      // an output plugin's open) is async so that a synchronous throw becomes a rejection, not an exception at the
      // call site.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // The tests read parsed documents (res.json(), YAML of rendered manifests, ffprobe output) loosely typed (any) and
    // assert on them: the assertion is the check, declaring a type for each document would only restate it.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    // The built-in room template's script runs in Chromium (a plain script, livekit-client's UMD build global).
    files: ['templates/**/*.js'],
    extends: [js.configs.recommended],
    languageOptions: {
      sourceType: 'script',
      globals: {
        LivekitClient: 'readonly',
        window: 'readonly',
        document: 'readonly',
        location: 'readonly',
        console: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        URLSearchParams: 'readonly',
      },
    },
  },
  {
    files: ['eslint.config.js'],
    extends: [js.configs.recommended],
  },
);
