// Flat config: typescript-eslint's recommended rules over all project TypeScript.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'lib/**', 'infra/imports/**', 'olm-bundle/**', 'coverage/**', 'bench/results/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      // Kubernetes objects are loosely typed JSON; `any` at those edges is honest.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  {
    // One direction only: the image build reads infra (settings, generated bundles) and writes
    // locks (infra/*-image.json); infra reads the locks and never builds an image.
    files: ['infra/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/image/*', '**/image'], message: 'infra/ must not import image/: read the lock the image build writes (infra/defaults.ts).' }] }],
    },
  },
);
