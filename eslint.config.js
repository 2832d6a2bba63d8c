// Linting beyond the type checker: recommended rules for JS and TypeScript.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['generated/**', 'generated-client/**', 'node_modules/**', '.tessera/**', 'coverage/**', 'dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['src/console/assets/**/*.js'],
    languageOptions: { globals: { document: 'readonly', window: 'readonly', location: 'readonly', URL: 'readonly', history: 'readonly', fetch: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', navigator: 'readonly', getSelection: 'readonly' } },
  },
);
