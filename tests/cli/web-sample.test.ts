import { copyFileSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join } from 'node:path';
import { build } from 'esbuild';
import { loadSafetensors, saveSafetensors } from '@seqgrad/io';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { sampleFromCheckpoint } from '../../examples/web/sample.js';
import { launchChromium } from '../setup/chromium.js';
import { buildCli, root, seqgrad, tmp } from './helpers.js';

// examples/web: a page that loads a checkpoint written by `seqgrad train` with @seqgrad/io and
// samples from it, bundled by esbuild and run in Debian's chromium through playwright-core.
const site = tmp('seqgrad-web-');
const checkpoint = join(site, 'lm.safetensors');
const sampleArgs = ['--prompt', 'the ', '--length', '60', '--temperature', '0.7', '--seed', '3'];
let server: ReturnType<typeof createServer>;
let origin = '';

beforeAll(async () => {
  buildCli();
  const r = await seqgrad(['train', '--task', 'charlm', '--cell', 'lstm', '--hidden', '12', '--layers', '2', '--batch', '8', '--seq-len', '16', '--steps', '40', '--progress', 'none', '--out', checkpoint]);
  expect(r.code, r.stderr).toBe(0);
  // The page's module, bundled for the browser: no Node built-in may be pulled in.
  await build({ entryPoints: [join(root, 'examples/web/sample.ts')], bundle: true, format: 'esm', platform: 'browser', outfile: join(site, 'sample.js'), logLevel: 'silent' });
  copyFileSync(join(root, 'examples/web/index.html'), join(site, 'index.html'));
  // A hostile copy: a float32 weight relabelled I32.
  const bytes = readFileSync(checkpoint);
  const n = Number(bytes.readBigUInt64LE(0));
  const header = bytes.subarray(8, 8 + n).toString('utf8').replace('"rnn.weight_hh_l0":{"dtype":"F32"', '"rnn.weight_hh_l0":{"dtype":"I32"');
  const relabelled = Buffer.concat([bytes.subarray(0, 8), Buffer.from(header), bytes.subarray(8 + n)]);
  (await import('node:fs')).writeFileSync(join(site, 'relabelled.safetensors'), relabelled);
  const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.safetensors': 'application/octet-stream' };
  server = createServer((req, res) => {
    const name = new URL(req.url ?? '/', 'http://x').pathname.slice(1);
    if (!/^[\w.-]+$/.test(name)) return void res.writeHead(404).end();
    try {
      const body = readFileSync(join(site, name));
      res.writeHead(200, { 'content-type': types[extname(name)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 300_000);

afterAll(() => {
  server?.close();
  rmSync(site, { recursive: true, force: true });
});

test('seqgrad/model: bundled by esbuild for the browser, it imports no Node built-in', async () => {
  const r = await build({ entryPoints: [join(root, 'packages/cli/src/portable.ts')], bundle: true, format: 'esm', platform: 'browser', write: false, metafile: true, logLevel: 'silent' });
  const imports = Object.values(r.metafile.inputs).flatMap((input) => input.imports.map((i) => i.path));
  expect(imports.filter((p) => p.startsWith('node:'))).toEqual([]);
  expect(Object.keys(r.metafile.inputs).filter((p) => /packages\/cli\/src\//.test(p)).sort()).toEqual(
    ['checkpoint.ts', 'checkpointModel.ts', 'config.ts', 'cellNames.ts', 'errors.ts', 'portable.ts', 'sampleText.ts', 'sequenceModel.ts', 'tasks.ts', 'text.ts'].map((f) => `packages/cli/src/${f}`).sort(),
  );
  expect(r.outputFiles[0]!.text).not.toMatch(/from\s*["']node:|require\(["']node:/);
});

test('examples/web: sampleFromCheckpoint in Node prints what seqgrad sample prints', async () => {
  const cli = await seqgrad(['sample', '--checkpoint', checkpoint, ...sampleArgs]);
  expect(cli.code, cli.stderr).toBe(0);
  const text = sampleFromCheckpoint(readFileSync(checkpoint), { prompt: 'the ', length: 60, temperature: 0.7, seed: 3 });
  expect(`${text}\n`).toBe(cli.stdout);
  // The page refuses what the command refuses.
  const { tensors, metadata } = loadSafetensors(readFileSync(checkpoint));
  const bidirectional = saveSafetensors(tensors, { ...metadata, config: metadata.config!.replace('"bidirectional":false', '"bidirectional":true') });
  expect(() => sampleFromCheckpoint(bidirectional)).toThrow(/a bidirectional character LM reads the next character/);
});

test('examples/web: the page, bundled by esbuild, samples in chromium what seqgrad sample prints, and refuses a relabelled tensor', async () => {
  const cli = await seqgrad(['sample', '--checkpoint', checkpoint, ...sampleArgs]);
  const browser = await launchChromium();
  try {
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const external: string[] = [];
    page.on('request', (req) => {
      if (!req.url().startsWith(origin)) external.push(req.url());
    });
    await page.goto(`${origin}/index.html?checkpoint=lm.safetensors&prompt=the%20&length=60&temperature=0.7&seed=3`);
    await page.waitForSelector('#out:not([data-status="loading"])', { timeout: 60_000 });
    expect(await page.getAttribute('#out', 'data-status'), await page.textContent('#out') ?? '').toBe('done');
    expect(`${await page.textContent('#out')}\n`).toBe(cli.stdout);

    await page.goto(`${origin}/index.html?checkpoint=relabelled.safetensors`);
    await page.waitForSelector('#out:not([data-status="loading"])', { timeout: 60_000 });
    expect(await page.getAttribute('#out', 'data-status')).toBe('error');
    expect(await page.textContent('#out')).toMatch(/relabelled\.safetensors does not match its config: tensor 'rnn\.weight_hh_l0' is I32 in the file but the model holds F32/);
    expect(errors).toEqual([]);
    expect(external).toEqual([]);
  } finally {
    await browser.close();
  }
}, 120_000);
