/**
 * `seqgrad playground`: serves the playground page (apps/playground) on 127.0.0.1, building it
 * with the app's own Vite first when it has not been built (or when --build asks). The page is
 * part of the repository, not of the published package, so the command runs from a checkout.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CliError } from './errors.js';
import { repositoryRoot } from './repository.js';

export interface PlaygroundOptions {
  port: string;
  build: boolean;
}

/** Parses --port: an integer in [0, 65535], 0 taking any free port. */
export function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) throw new CliError(`--port must be an integer from 0 to 65535 (0: any free port), got '${value}'`);
  return port;
}

export async function playgroundCommand(opts: PlaygroundOptions): Promise<void> {
  const port = parsePort(String(opts.port));
  const app = join(repositoryRoot(), 'apps', 'playground');
  if (!existsSync(join(app, 'index.html'))) {
    throw new CliError(`the playground is not at ${app}: run seqgrad playground from a checkout of the seqgrad repository`);
  }
  const dist = join(app, 'dist');
  if (opts.build || !existsSync(join(dist, 'index.html'))) {
    const vite = join(app, 'node_modules', 'vite', 'bin', 'vite.js');
    if (!existsSync(vite)) throw new CliError(`cannot build the playground: ${vite} is missing (run npx -y pnpm@12.4.2 install first)`);
    console.log('seqgrad playground: building the page (vite build)');
    const r = spawnSync(process.execPath, [vite, 'build', '--logLevel', 'warn'], { cwd: app, stdio: 'inherit', env: { ...process.env, NODE_ENV: 'production' } });
    if (r.status !== 0) throw new CliError(`building the playground failed: vite build exited with ${r.status ?? r.signal}`);
  }
  const { serveStatic } = (await import(pathToFileURL(join(app, 'serve.mjs')).href)) as {
    serveStatic(root: string, port: number): Promise<{ url: string }>;
  };
  let url: string;
  try {
    ({ url } = await serveStatic(dist, port));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(code === 'EADDRINUSE' ? `--port ${port} is already in use on 127.0.0.1; pick another (or 0 for any free port)` : `cannot serve the playground on 127.0.0.1:${port}: ${(err as Error).message}`);
  }
  console.log(`seqgrad playground: ${url} (127.0.0.1 only; Ctrl-C to stop)`);
}
