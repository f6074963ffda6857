import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (pkg: string) => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url));

// Tests import packages by name; the alias points them at the TypeScript sources so a
// test run never depends on a stale dist/. Subprocess tests (the CLI) use the built dist/.
export default defineConfig({
  resolve: {
    // Exact names (a plain prefix alias would turn '@seqgrad/autograd/threads' into a path under index.ts).
    alias: [
      { find: /^@seqgrad\/autograd\/threads$/, replacement: fileURLToPath(new URL('./packages/autograd/src/threads.ts', import.meta.url)) },
      { find: /^@seqgrad\/autograd$/, replacement: src('autograd') },
      { find: /^@seqgrad\/layers$/, replacement: src('layers') },
      { find: /^@seqgrad\/optim$/, replacement: src('optim') },
      { find: /^@seqgrad\/io\/node$/, replacement: fileURLToPath(new URL('./packages/io/src/node.ts', import.meta.url)) },
      { find: /^@seqgrad\/io$/, replacement: src('io') },
      // The CLI package from source too, so that it shares the one copy of @seqgrad/layers the tests load.
      { find: /^seqgrad$/, replacement: src('cli') },
    ],
  },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'tests/**/*.test.ts', 'bench/test/**/*.test.ts'],
    setupFiles: ['tests/setup/property.ts', 'tests/setup/allclose.ts', 'tests/setup/requireAssertions.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // CI asks for machine-readable results as well (see .ci/run); the summary line it prints is counted from them.
    reporters: process.env.SEQGRAD_VITEST_JSON ? ['default', ['json', { outputFile: process.env.SEQGRAD_VITEST_JSON }]] : ['default'],
  },
});
