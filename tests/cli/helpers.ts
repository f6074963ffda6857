import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Helpers for running the built `seqgrad` bin as a subprocess. */
export const root = fileURLToPath(new URL('../..', import.meta.url));
export const bin = join(root, 'packages/cli/dist/cli.js');

/**
 * Builds packages/cli (and, through project references, what it depends on); a no-op when
 * dist/ is up to date. Test files run in parallel, so builds take turns under a lock directory.
 */
export function buildCli(): void {
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
    const r = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-b', 'packages/cli'], { cwd: root, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`tsc -b packages/cli failed:\n${r.stdout}${r.stderr}`);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `seqgrad <args>` to completion. */
export function seqgrad(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: opts.cwd ?? root, env: { ...process.env, ...opts.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** A fresh temporary directory. */
export function tmp(prefix = 'seqgrad-cli-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
