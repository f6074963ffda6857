import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { afterAll, expect, test } from 'vitest';

// The packages' "sideEffects" fields, read by bundlers through the installed packages (dist/):
// modules nobody uses are dropped, and the ones with an import-time effect are kept.
const root = resolve(import.meta.dirname, '../../..');
const dir = mkdtempSync(join(tmpdir(), 'seqgrad-bundle-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Bundles `contents` (resolved from the repository root) and lists the package files that put code in the bundle. */
async function bundle(contents: string, platform: 'browser' | 'node'): Promise<{ file: string; files: string[] }> {
  const file = join(dir, `${platform}.mjs`);
  const result = await build({
    stdin: { contents, resolveDir: root, loader: 'ts' }, bundle: true, format: 'esm', platform, outfile: file, metafile: true, logLevel: 'silent',
  });
  const output = Object.values(result.metafile.outputs)[0]!;
  const files = Object.entries(output.inputs).filter(([, v]) => v.bytesInOutput > 0).map(([k]) => k.replace(/^.*packages\//, ''));
  return { file, files };
}

const backwardEntry = `
import { tensor } from '@seqgrad/autograd';
const x = tensor([1, 2, 3], { requiresGrad: true });
x.mul(x).sum().backward();
export const gradient = Array.from(x.grad.data);
`;

test('sideEffects: a browser bundle of tensor + backward keeps the engine hooks of tensor.js and drops the unused scan compiler', async () => {
  const { file, files } = await bundle(backwardEntry, 'browser');
  expect(files).toContain('autograd/dist/tensor.js');
  expect(files).not.toContain('autograd/dist/compile/scan.js');
  expect(files.filter((f) => f.endsWith('threads.js') || f.endsWith('node.js'))).toEqual([]);
  // tensor.js installs the engine's hooks on import: without them backward() would throw.
  const { gradient } = (await import(pathToFileURL(file).href)) as { gradient: number[] };
  expect(gradient).toEqual([2, 4, 6]);
});

test('sideEffects: a Node bundle keeps node.js, whose import turns the threaded GEMM policy on', async () => {
  const { files } = await bundle(backwardEntry, 'node');
  expect(files).toContain('autograd/dist/node.js');
  expect(files).toContain('autograd/dist/threads.js');
});

test('sideEffects: optim and layers drop what is not imported', async () => {
  const { files } = await bundle(`export { SGD } from '@seqgrad/optim'; export { Linear } from '@seqgrad/layers';`, 'browser');
  expect(files).toContain('optim/dist/sgd.js');
  expect(files).not.toContain('optim/dist/schedulers.js');
  expect(files).not.toContain('optim/dist/adam.js');
  expect(files.some((f) => f.startsWith('layers/dist/bptt/'))).toBe(false);
});
