// ESLint: typescript-eslint with type-aware rules, eslint-plugin-svelte, and the layer rules of
// DESIGN.md (renderer -> shared <- main; core and shared never import electron).
import js from '@eslint/js';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';
import ts from 'typescript-eslint';
import svelteConfig from './svelte.config.js';

const noElectron = {
  name: 'electron',
  message: 'core and shared run without Electron (DESIGN.md): use a port instead.',
};

export default ts.config(
  {
    ignores: [
      'out/',
      'dist/',
      'node_modules/',
      'test-results/',
      'playwright-report/',
      'resources/',
      'tests/fixtures/comfyui/',
      'tests/fixtures/library/',
    ],
  },
  js.configs.recommended,
  ...ts.configs.recommendedTypeChecked,
  ...svelte.configs.recommended,
  {
    languageOptions: {
      globals: { ...globals.node, ...globals.browser },
      parserOptions: {
        projectService: true,
        extraFileExtensions: ['.svelte'],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': [
        'error',
        { checksVoidReturn: { arguments: false, attributes: false } },
      ],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      // Narrowing `unknown` from JSON and from libraries is routine here; the zod schemas check the rest.
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/restrict-template-expressions': 'off',
      '@typescript-eslint/require-await': 'off',
      // State classes replace immutable Map/Set snapshots held in $state.raw as a whole (STYLE.md §5);
      // SvelteMap would make every lookup a dependency for no gain.
      'svelte/prefer-svelte-reactivity': 'off',
    },
  },
  {
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: {
      parserOptions: { parser: ts.parser, svelteConfig },
    },
  },
  {
    // Tests: the renderer fakes throw the serialised error shape the bridge carries, casts of DOM queries
    // read better than type arguments, and the ComfyUI stand-in stringifies like Python's str().
    files: ['tests/**'],
    rules: {
      '@typescript-eslint/only-throw-error': 'off',
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      '@typescript-eslint/no-base-to-string': 'off',
      '@typescript-eslint/no-empty-object-type': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    ...ts.configs.disableTypeChecked,
  },
  {
    files: ['src/main/core/**', 'src/shared/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: [noElectron, { name: 'electron-store', message: 'electron-store is for src/main/electron only.' }] },
      ],
    },
  },
  {
    files: ['src/shared/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [noElectron],
          patterns: [
            { group: ['node:*'], message: 'shared is the contract: zod and plain TypeScript only.' },
            { group: ['**/main/**', '**/renderer/**'], message: 'shared imports nothing else of ours.' },
          ],
        },
      ],
    },
  },
  {
    files: ['src/renderer/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [noElectron],
          patterns: [
            {
              group: ['**/main/**', '**/src/main/**'],
              message: 'the renderer talks to the core only through the contract (src/shared).',
            },
          ],
        },
      ],
    },
  },
);
