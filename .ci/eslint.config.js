// ESLint flat config (kept in .ci/ so the top level stays as the design card says; run via `npm run lint`).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'public/**', 'tests/fixtures/**', '.ci/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...svelte.configs['flat/recommended'],
  {
    languageOptions: { globals: { ...globals.browser, ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: { parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.svelte'] } },
  },
  {
    // The core must stay pure: no DOM-only, UI or Node imports except in the Node-only io module.
    files: ['src/core/**/*.ts'],
    ignores: ['src/core/io/node.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['**/ui/**', 'svelte', 'svelte/*', 'node:*'] }],
    },
  },
);
