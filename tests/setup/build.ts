import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * `tsc -b <project>` from the repository root (a no-op when its dist/ is up to date), for tests
 * that run built code in a subprocess. Test files run in parallel and their builds share
 * output directories, so builds take turns under one lock directory.
 */
export function buildProject(project: string): void {
  const lock = join(tmpdir(), 'seqgrad-cli-build.lock');
  const start = Date.now();
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      let age = 0;
      try {
        age = Date.now() - statSync(lock).mtimeMs;
      } catch {
        continue; // released in between
      }
      if (age > 180_000) rmSync(lock, { recursive: true, force: true }); // left by a killed run
      if (Date.now() - start > 240_000) throw new Error(`waited 4 minutes for ${lock}`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
  try {
    const r = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-b', project], { cwd: root, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`tsc -b ${project} failed:\n${r.stdout}${r.stderr}`);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
