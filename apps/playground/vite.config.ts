import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const pkg = (path: string) => fileURLToPath(new URL(`../../packages/${path}`, import.meta.url));

// The workspace packages are bundled from their TypeScript sources, as the tests do, so the
// page never depends on a stale dist/. `seqgrad/tasks` is the CLI's browser-safe task module.
export default defineConfig({
  base: './',
  resolve: {
    alias: [
      { find: /^@seqgrad\/autograd$/, replacement: pkg('autograd/src/index.ts') },
      { find: /^@seqgrad\/layers$/, replacement: pkg('layers/src/index.ts') },
      { find: /^@seqgrad\/optim$/, replacement: pkg('optim/src/index.ts') },
      { find: /^@seqgrad\/io$/, replacement: pkg('io/src/index.ts') },
      { find: /^seqgrad\/tasks$/, replacement: pkg('cli/src/tasks.ts') },
    ],
  },
  worker: { format: 'es' },
  // The editor chunk (CodeMirror with its JavaScript language) is about 500 kB and loads after the page.
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', reportCompressedSize: false, chunkSizeWarningLimit: 600 },
  server: { host: '127.0.0.1' },
  preview: { host: '127.0.0.1' },
});
