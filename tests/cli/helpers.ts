import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildProject } from '../setup/build.js';

/** Helpers for running the built `seqgrad` bin as a subprocess. */
export const root = fileURLToPath(new URL('../..', import.meta.url));
export const bin = join(root, 'packages/cli/dist/cli.js');

/** Builds packages/cli (and, through project references, what it depends on); a no-op when dist/ is up to date. */
export function buildCli(): void {
  buildProject('packages/cli');
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
