import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { type Plugin, build as viteBuild, defineConfig } from 'vite';
import { ISOLATION_HEADERS } from './serve.mjs';

const pkg = (path: string) => fileURLToPath(new URL(`../../packages/${path}`, import.meta.url));

/**
 * Builds src/sw.ts into sw.js beside index.html, with the list of every file of the build and
 * a version made from their contents, so the service worker caches exactly this build.
 */
function serviceWorker(): Plugin {
  return {
    name: 'seqgrad-playground-service-worker',
    apply: 'build',
    async generateBundle(_options, bundle) {
      const files = ['./', ...Object.keys(bundle).map((f) => `./${f}`)];
      const hash = createHash('sha256');
      for (const [name, out] of Object.entries(bundle)) hash.update(name).update(out.type === 'chunk' ? out.code : out.source);
      const built = await viteBuild({
        configFile: false,
        logLevel: 'warn',
        define: { __PLAYGROUND_BUILD__: JSON.stringify({ version: hash.digest('hex').slice(0, 16), files }) },
        build: {
          write: false,
          target: 'es2022',
          lib: { entry: fileURLToPath(new URL('./src/sw.ts', import.meta.url)), formats: ['es'], fileName: () => 'sw.js' },
        },
      });
      const output = (Array.isArray(built) ? built[0]! : built) as { output: { code?: string }[] };
      this.emitFile({ type: 'asset', fileName: 'sw.js', source: output.output[0]!.code! });
    },
  };
}

// The workspace packages are bundled from their TypeScript sources, as the tests do, so the
// page never depends on a stale dist/. `seqgrad/tasks` and `seqgrad/model` are the CLI's browser-safe modules (tasks; model, checkpoints, sampler).
export default defineConfig({
  base: './',
  plugins: [serviceWorker()],
  resolve: {
    alias: [
      { find: /^@seqgrad\/autograd$/, replacement: pkg('autograd/src/index.ts') },
      // The browser entry of the threads module: the GEMM's Web Worker pool.
      { find: /^@seqgrad\/autograd\/threads$/, replacement: pkg('autograd/src/threadsBrowser.ts') },
      { find: /^@seqgrad\/layers$/, replacement: pkg('layers/src/index.ts') },
      { find: /^@seqgrad\/optim$/, replacement: pkg('optim/src/index.ts') },
      { find: /^@seqgrad\/io$/, replacement: pkg('io/src/index.ts') },
      { find: /^seqgrad\/tasks$/, replacement: pkg('cli/src/tasks.ts') },
      { find: /^seqgrad\/model$/, replacement: pkg('cli/src/portable.ts') },
      // The cells of examples/cells/, offered in the cell menu.
      { find: /^seqgrad-example-cells\/([\w-]+)$/, replacement: fileURLToPath(new URL('../../examples/cells/$1.mjs', import.meta.url)) },
    ],
  },
  worker: { format: 'es' },
  // The editor chunk (CodeMirror with its JavaScript language) is about 500 kB and loads after the page.
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', reportCompressedSize: false, chunkSizeWarningLimit: 600 },
  // Cross-origin isolated, as `seqgrad playground` serves it (serve.mjs), so the workers get the GEMM pool.
  server: { host: '127.0.0.1', headers: ISOLATION_HEADERS },
  preview: { host: '127.0.0.1', headers: ISOLATION_HEADERS },
});
