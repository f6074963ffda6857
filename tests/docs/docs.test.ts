import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { EMBEDDED_TEXT, FIXED_SIZES, TASK_DEFAULTS, Trainer, vocabularyOf } from 'seqgrad';
import { bin, buildCli, root, tmp as freshDir } from '../cli/helpers.js';

/**
 * The one runner of the docs. Every TypeScript code block in docs/ and in the READMEs is
 * extracted and executed here, so the docs cannot rot; shell blocks are checked for the
 * package scripts they name. docs/cli.md's shell commands are run as well, and the figures it
 * quotes (the results table, the gradcheck outputs) are checked against what the CLI computes.
 */
const tmp = join(root, 'tests/docs/.tmp');

/** README.md, docs/*.md, and the README of bench/ and of every package, example and app. */
function markdownFiles(): string[] {
  const files = [join(root, 'README.md'), join(root, 'bench/README.md')];
  const docs = join(root, 'docs');
  if (existsSync(docs)) {
    for (const f of readdirSync(docs)) if (f.endsWith('.md')) files.push(join(docs, f));
  }
  for (const dir of ['packages', 'examples', 'apps']) {
    if (!existsSync(join(root, dir))) continue;
    for (const sub of readdirSync(join(root, dir))) files.push(join(root, dir, sub, 'README.md'));
  }
  return files.filter(existsSync);
}

interface Block {
  lang: string;
  code: string;
  line: number;
}

export function codeBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w+)?\s*$/.exec(lines[i]!);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) body.push(lines[i]!);
    blocks.push({ lang: open[1] ?? '', code: body.join('\n'), line: start + 1 });
  }
  return blocks;
}

const rootScripts = Object.keys(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts ?? {});

mkdirSync(tmp, { recursive: true });
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

for (const file of markdownFiles()) {
  const rel = relative(root, file);
  const blocks = codeBlocks(readFileSync(file, 'utf8')).filter((b) => ['ts', 'typescript', 'bash', 'sh', 'shell'].includes(b.lang));
  if (blocks.length === 0) continue;
  describe(`docs: ${rel}`, () => {
    blocks
      .filter((b) => b.lang === 'ts' || b.lang === 'typescript')
      .forEach((b) => {
        test(`docs: ${rel}:${b.line} runs`, async () => {
          const path = join(tmp, `${rel.replace(/[^\w]/g, '_')}_${b.line}.ts`);
          writeFileSync(path, `${b.code}\nexport {};\n`);
          // The block's own checks throw; the import must resolve, not reject.
          await expect(import(pathToFileURL(path).href), `${rel}:${b.line}`).resolves.toBeDefined();
        });
      });
    blocks
      .filter((b) => b.lang === 'bash' || b.lang === 'sh' || b.lang === 'shell')
      .forEach((b) => {
        test(`docs: ${rel}:${b.line} names existing package scripts`, () => {
          const named = [...b.code.matchAll(/pnpm(?:@[\d.]+)?\s+(?:run\s+)?([\w:-]+)/g)]
            .map((m) => m[1]!)
            .filter((script) => !['install', 'add', 'exec', 'dlx', '-y', 'i'].includes(script));
          expect(named.filter((script) => !rootScripts.includes(script)), `${rel}:${b.line} runs pnpm scripts the root package.json lacks`).toEqual([]);
        });
      });
  });
}

/**
 * docs/cli.md, in order: a ```js block whose first line is a comment naming an absolute path is
 * saved there; every line of a ```bash block is run from the repository root and must succeed
 * (python3 lines only where torch is installed).
 */
describe('docs: docs/cli.md commands and figures', () => {
  const doc = readFileSync(join(root, 'docs/cli.md'), 'utf8');
  const blocks = [...doc.matchAll(/^```(\w+)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1]!, code: m[2]! }));
  // Build under the shared lock first, so the docs' own `tsc -b` finds nothing to do while
  // another test file may be building.
  beforeAll(() => buildCli(), 300_000);

  const hasTorch = spawnSync('/usr/bin/python3', ['-c', 'import torch, numpy'], { encoding: 'utf8' }).status === 0;

  test('docs/cli.md: every shell command and the custom cell example run', () => {
    rmSync('/tmp/seqgrad-docs', { recursive: true, force: true });
    let ran = 0;
    for (const b of blocks) {
      if (b.lang === 'js') {
        const path = /^\/\/ (\/\S+?):/.exec(b.code)?.[1];
        expect(path, 'a js block starts with // /absolute/path:').toBeTruthy();
        mkdirSync(dirname(path!), { recursive: true });
        writeFileSync(path!, b.code);
      } else if (b.lang === 'bash') {
        for (const line of b.code.split('\n').filter((l) => l.trim())) {
          if (line.includes('python3') && !hasTorch) continue;
          const r = spawnSync('sh', ['-c', line], { cwd: root, encoding: 'utf8' });
          expect(r.status, `${line}\n${r.stdout}\n${r.stderr}`).toBe(0);
          ran++;
        }
      }
    }
    expect(ran).toBeGreaterThanOrEqual(6);
  }, 120_000);

  /** The rows of docs/cli.md's results table, by "task cell clipping". */
  function docTable(): Map<string, string[]> {
    const section = doc.slice(doc.indexOf('### Results of the default run'), doc.indexOf('What it shows:'));
    const rows = section.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| task') && !l.startsWith('| ---'));
    return new Map(rows.map((l) => l.slice(2, -2).split(' | ')).map((cells) => [cells.slice(0, 3).join(' '), cells]));
  }

  test('docs/cli.md: the results table has every default run, with the parameter counts of the models', () => {
    const table = docTable();
    expect(table.size).toBe(18);
    for (const task of ['adding', 'echo', 'charlm'] as const) {
      for (const cell of ['rnn', 'lstm', 'gru']) {
        const trainer = Trainer.create({
          task, cell, hidden: 32, layers: 1, bidirectional: false, steps: TASK_DEFAULTS[task].steps, batch: 32, lr: 0.02, clip: null, seed: 0,
          seqLen: TASK_DEFAULTS[task].seqLen, delay: 5, ...FIXED_SIZES, text: '', vocab: task === 'charlm' ? vocabularyOf(EMBEDDED_TEXT) : undefined,
        });
        for (const clip of ['no clipping', 'clip 1']) expect(table.get(`${task} ${cell} ${clip}`)?.[3], `${task} ${cell} ${clip}`).toBe(String(trainer.model.numParameters()));
      }
    }
  });

  test('docs/cli.md: the echo rows of rnn and gru are what the code computes today', () => {
    const out = join(freshDir(), 'echo');
    const r = spawnSync(process.execPath, [bin, 'experiment', '--tasks', 'echo', '--cells', 'rnn,gru', '--jobs', '1', '--progress', 'none', '--out', out], { cwd: root, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const md = spawnSync(process.execPath, [bin, 'report', join(out, 'results.json'), '--markdown'], { cwd: root, encoding: 'utf8' });
    const table = docTable();
    const fresh = md.stdout.split('\n').filter((l) => l.startsWith('| echo'));
    expect(fresh).toHaveLength(4);
    for (const line of fresh) {
      const cells = line.slice(2, -2).split(' | ');
      const documented = table.get(cells.slice(0, 3).join(' '));
      // Every column but steps/s and time (columns 7 and 8), which depend on the machine's load.
      const fixed = (c: string[] | undefined) => c && [...c.slice(0, 7), c[9]];
      expect(fixed(documented), line).toEqual(fixed(cells));
    }
  }, 120_000);

  test('docs/cli.md: the gradcheck outputs quoted are what seqgrad gradcheck prints', () => {
    const section = doc.slice(doc.indexOf('## `seqgrad gradcheck`'));
    const quoted = [...section.matchAll(/^```text\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
    expect(quoted.length).toBeGreaterThanOrEqual(2);
    const run = (cell: string) => spawnSync(process.execPath, [bin, 'gradcheck', '--cell', cell], { cwd: root, encoding: 'utf8' }).stdout;
    expect(quoted[0]).toBe(run('lstm'));
    // The planted bug's block quotes the lines after the first (which names the file).
    const buggy = run('tests/cli/fixtures/buggy-lstm-cell.mjs').split('\n').slice(1).join('\n');
    expect(quoted[1]).toBe(buggy);
  });
});
