import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tensor } from '@seqgrad/autograd';
import { loadSafetensors, saveSafetensors } from '@seqgrad/io';
import { beforeAll, describe, expect, test } from 'vitest';
import { bin, buildCli, root, tmp } from '../cli/helpers.js';
import { type MisuseCase, runMisuseSuite } from './classify.js';

/**
 * The command line's misuse table: every case runs the built `seqgrad` in a subprocess with a
 * time limit. Exit status 1 with exactly one `seqgrad: …` line on stderr is an error whose
 * message is that line; status 0 is `silent`; more output (a stack trace) is an error that says
 * nothing; a timeout or a death by signal is thrown as a non-Error, which classifies as `crash`.
 */
function cli(args: string[], opts: { timeoutMs?: number; cwd?: string } = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: opts.cwd ?? dir });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.resume();
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (signal) return reject(`seqgrad ${args.join(' ')}: killed by ${signal} (timeout or crash)`);
      if (code === 0) return resolve();
      const lines = stderr.trimEnd().split('\n');
      if (code !== 1 || lines.length !== 1 || !lines[0]!.startsWith('seqgrad: ')) return reject(new Error(`not one line (status ${code}, ${lines.length} lines)`));
      reject(new Error(lines[0]!.slice('seqgrad: '.length)));
    });
  });
}

/** Runs `fn`; if it left `marker` behind (code from a file ran), returns normally, which classifies as `silent`. */
async function withoutSideEffect(marker: string, fn: () => Promise<void>): Promise<void> {
  let error: unknown;
  try {
    await fn();
  } catch (e) {
    error = e;
  }
  if (existsSync(marker)) return;
  if (error !== undefined) throw error;
}

const dir = tmp('seqgrad-misuse-');
const p = (name: string) => join(dir, name);
const tiny = ['--hidden', '8', '--batch', '4', '--seq-len', '8', '--steps', '2', '--progress', 'none'];
const marker = p('code-ran');

/** A copy of a checkpoint with its config, tensors or header changed. */
function variant(name: string, from: string, change: { config?: (c: Record<string, unknown>) => void; tensors?: (t: Map<string, Tensor>) => void; metadata?: (m: Record<string, string>) => void }): string {
  const { tensors, metadata } = loadSafetensors(readFileSync(from), { allowNonFinite: true });
  const md = { ...metadata };
  if (change.config) {
    const c = JSON.parse(md.config!);
    change.config(c);
    md.config = JSON.stringify(c);
  }
  change.tensors?.(tensors);
  change.metadata?.(md);
  writeFileSync(p(name), saveSafetensors(tensors, md));
  return p(name);
}

/** A copy of a checkpoint whose header text is rewritten (same data block). */
function headerEdit(name: string, from: string, edit: (header: Record<string, unknown>) => void): string {
  const bytes = readFileSync(from);
  const n = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'));
  edit(header);
  const json = Buffer.from(JSON.stringify(header));
  const out = Buffer.alloc(8 + json.length + bytes.length - 8 - n);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(out, 8);
  bytes.copy(out, 8 + json.length, 8 + n);
  writeFileSync(p(name), out);
  return p(name);
}

const lm = p('lm.safetensors');
const adding = p('adding.safetensors');
const custom = p('mgu.safetensors');
const texted = p('texted.safetensors');
const textFile = p('text.txt');
const fifo = p('fifo');
const evil = p('evil.mjs');

beforeAll(async () => {
  buildCli();
  writeFileSync(textFile, 'abcabd dcba '.repeat(20));
  writeFileSync(evil, `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(marker)}, 'imported');\nexport default function () { throw new Error('evil'); }\n`);
  execFileSync('mkfifo', [fifo]);
  mkdirSync(p('a-directory'));
  writeFileSync(p('short.txt'), 'x');
  writeFileSync(p('binary.txt'), Buffer.concat([Buffer.from('a'.repeat(200)), Buffer.from([0])]));
  writeFileSync(p('not-json.json'), '{ nope');
  writeFileSync(p('a-file'), 'x');
  writeFileSync(p('throws-on-import.mjs'), 'throw new Error("broken module");\n');
  writeFileSync(p('exports-nothing.mjs'), 'export const x = 1;\n');
  const train = (args: string[]) => execFileSync(process.execPath, [bin, 'train', ...tiny, ...args], { cwd: dir, stdio: 'pipe' });
  train(['--task', 'charlm', '--cell', 'gru', '--out', lm]);
  train(['--task', 'adding', '--cell', 'gru', '--out', adding]);
  train(['--task', 'charlm', '--cell', join(root, 'examples/cells/mgu.mjs'), '--out', custom]);
  train(['--task', 'charlm', '--cell', 'gru', '--text', textFile, '--out', texted]);
  // A live writer's lock on one path (our own pid holds it: a process that runs).
  writeFileSync(join(dir, '.locked.safetensors.lock'), `${process.pid}\n`);
}, 300_000);

// Hostile checkpoints, made in beforeAll's directory lazily (they need the trained files).
const hostile = {
  v1ModulePath: () => variant('v1-module.safetensors', lm, { config: (c) => { c.cell = evil; delete c.textSha256; }, metadata: (m) => { m.format = 'seqgrad.checkpoint.v1'; } }),
  v2ModulePath: () => variant('v2-module.safetensors', lm, { config: (c) => { c.cell = evil; c.cellSha256 = 'a'.repeat(64); } }),
  v2ModuleName: () => variant('v2-module-name.safetensors', custom, { config: (c) => { c.cell = 'evil'; } }),
  textPasswd: () => variant('text-passwd.safetensors', lm, { config: (c) => { c.text = '/etc/passwd'; c.textSha256 = 'b'.repeat(64); } }),
  textFifo: () => variant('text-fifo.safetensors', lm, { config: (c) => { c.text = fifo; c.textSha256 = 'b'.repeat(64); } }),
  hidden20000: () => variant('hidden-20000.safetensors', lm, { config: (c) => { c.hidden = 20000; } }),
  hidden4000: () => variant('hidden-4000.safetensors', lm, { config: (c) => { c.hidden = 4000; } }),
  layers100000: () => variant('layers-100000.safetensors', lm, { config: (c) => { c.layers = 100000; } }),
  relabelled: () => headerEdit('relabelled.safetensors', lm, (h) => { (h['rnn.weight_hh_l0'] as { dtype: string }).dtype = 'I32'; }),
  nanWeights: () => variant('nan.safetensors', lm, { tensors: (t) => { t.get('head.weight')!.data[3] = NaN; } }),
  protoTensor: () => variant('proto.safetensors', lm, { tensors: (t) => { t.set('__proto__', new Tensor(new Float32Array(1), [1])); } }),
  protoConfig: () => variant('proto-config.safetensors', lm, { metadata: (m) => { m.config = m.config!.replace(/^\{/, '{"__proto__":{"hidden":20000},'); } }),
  truncated: () => { const b = readFileSync(lm); writeFileSync(p('truncated.safetensors'), b.subarray(0, b.length - 10)); return p('truncated.safetensors'); },
  truncatedHeader: () => { writeFileSync(p('truncated-header.safetensors'), readFileSync(lm).subarray(0, 40)); return p('truncated-header.safetensors'); },
  hugeHeader: () => { const b = Buffer.from(readFileSync(lm)); b.writeBigUInt64LE(1n << 62n, 0); writeFileSync(p('huge-header.safetensors'), b); return p('huge-header.safetensors'); },
  schedule: () => variant('schedule.safetensors', lm, { metadata: (m) => { const s = JSON.parse(m.scheduler!); s.milestones = 5; m.scheduler = JSON.stringify(s); } }),
  badStep: () => variant('bad-step.safetensors', lm, { metadata: (m) => { m.step = 'abc'; } }),
  dropoutOne: () => variant('dropout-one.safetensors', lm, { config: (c) => { c.recurrentDropout = 1; } }),
  zoneoutC: () => variant('zoneout-c.safetensors', lm, { config: (c) => { c.zoneout = { c: 0.5 }; } }),
  zoneoutText: () => variant('zoneout-text.safetensors', lm, { config: (c) => { c.zoneout = '0.5'; } }),
  noMaskRng: () => variant('no-mask-rng.safetensors', lm, { config: (c) => { c.inputDropout = 0.1; } }),
  plain: () => { writeFileSync(p('plain.safetensors'), saveSafetensors({ w: new Tensor(new Float32Array(2), [2]) })); return p('plain.safetensors'); },
};

const cases: MisuseCase[] = [
  // Flags.
  { name: 'train: --recurrent-dropout 1', run: () => cli(['train', '--recurrent-dropout', '1']), expect: ['--recurrent-dropout', "expected a rate in [0, 1), got '1'"] },
  { name: 'train: --input-dropout -0.1', run: () => cli(['train', '--input-dropout', '-0.1']), expect: ['--input-dropout', "expected a rate in [0, 1), got '-0.1'"] },
  { name: 'train: --zoneout abc', run: () => cli(['train', '--zoneout', 'abc']), expect: ['--zoneout', "'abc' is not a rate in [0, 1)"] },
  { name: 'train: --zoneout h=0.1,h=0.2', run: () => cli(['train', '--zoneout', 'h=0.1,h=0.2']), expect: ['--zoneout', "'h' is given twice"] },
  { name: 'train: --zoneout c=0.5 for a GRU', run: () => cli(['train', '--cell', 'gru', '--zoneout', 'c=0.5', ...tiny]), expect: ["--zoneout names 'c', which is not a state entry of the gru cell (h)"] },
  { name: 'experiment: --recurrent-dropout 2', run: () => cli(['experiment', '--recurrent-dropout', '2']), expect: ['--recurrent-dropout', 'expected a rate in [0, 1)'] },
  { name: 'experiment: --cells with an empty item', run: () => cli(['experiment', '--cells', 'rnn,,lstm']), expect: ['--cells', "item 2 of 'rnn,,lstm' is empty"] },
  { name: 'experiment: --clip with a trailing comma', run: () => cli(['experiment', '--clip', 'none,1,']), expect: ['--clip', 'item 3', 'is empty'] },
  { name: 'train: --layers 100000', run: () => cli(['train', '--layers', '100000']), expect: ['--layers 100000 is above the limit of 1000'] },
  { name: 'train: --hidden 100000', run: () => cli(['train', '--hidden', '100000']), expect: ['--hidden 100000 is above the limit'] },
  { name: 'train: --hidden 8192 --layers 20 (too many parameters)', run: () => cli(['train', '--hidden', '8192', '--layers', '20']), expect: ['--hidden 8192 with 20 layer(s) makes', 'parameters, above the limit'] },
  { name: 'train: --batch 10000000', run: () => cli(['train', '--batch', '10000000']), expect: ['--batch 10000000 is above the limit'] },
  { name: 'train: --task charlm --bidirectional', run: () => cli(['train', '--task', 'charlm', '--bidirectional']), expect: ['--bidirectional', 'reads the next character'] },
  { name: 'train: --out is a directory', run: () => cli(['train', '--out', p('a-directory')]), expect: [`--out ${p('a-directory')}: is a directory`] },
  { name: 'train: --out is empty', run: () => cli(['train', '--out', '']), expect: ['--out', 'the path is empty'] },
  { name: 'train: --out in a missing directory', run: () => cli(['train', '--out', p('missing/ck.safetensors')]), expect: [`--out ${p('missing/ck.safetensors')}`, 'no such file or directory'] },
  { name: 'train: --out that another live trainer holds', run: () => cli(['train', ...tiny, '--task', 'adding', '--out', p('locked.safetensors')]), expect: [`(pid ${process.pid}) is writing this file`] },
  { name: 'train: --text a named pipe', run: () => cli(['train', '--task', 'charlm', '--text', fifo], { timeoutMs: 15_000 }), expect: [`--text ${fifo}`, 'named pipe'] },
  { name: 'train: --text a directory', run: () => cli(['train', '--task', 'charlm', '--text', p('a-directory')]), expect: ['--text', 'is a directory'] },
  { name: 'train: --text of one character', run: () => cli(['train', '--task', 'charlm', '--text', p('short.txt')]), expect: ['only 1 character;'] },
  { name: 'train: --text a binary file', run: () => cli(['train', '--task', 'charlm', '--text', p('binary.txt')]), expect: ['looks binary'] },
  { name: 'train: --cell a module that throws on import', run: () => cli(['train', '--cell', p('throws-on-import.mjs')]), expect: ['--cell', 'cannot load the module: broken module'] },
  { name: 'train: --cell a module that exports no cell', run: () => cli(['train', '--cell', p('exports-nothing.mjs')]), expect: ['--cell', 'must export'] },
  { name: 'gradcheck: a custom cell whose step returns H+1 columns', run: () => cli(['gradcheck', '--cell', join(root, 'tests/cli/fixtures/wide-state-cell.mjs')]), expect: ['wide-state-cell.mjs: step returned state h[2,5] for a batch of 2, but stateSizes.h is 4, so it must be [2,4]'] },
  { name: 'train: a custom cell whose step returns H+1 columns', run: () => cli(['train', '--task', 'adding', '--hidden', '3', '--cell', join(root, 'tests/cli/fixtures/wide-state-cell.mjs')]), expect: ['step returned state h[2,4]', 'stateSizes.h is 3'] },
  { name: 'gradcheck: --cell a directory', run: () => cli(['gradcheck', '--cell', `${p('a-directory')}/`]), expect: ['--cell', 'is a directory'] },
  { name: 'experiment: --out is a file', run: () => cli(['experiment', '--out', p('a-file')]), expect: [`--out ${p('a-file')}: is a file, not a directory`] },
  { name: 'report: results.json is not JSON', run: () => cli(['report', p('not-json.json')]), expect: ["not an experiment's results.json"] },
  { name: 'report: results.json is a named pipe', run: () => cli(['report', fifo], { timeoutMs: 15_000 }), expect: [fifo, 'named pipe'] },
  // Checkpoints given to the wrong command or without what they need.
  { name: 'sample: an adding checkpoint', run: () => cli(['sample', '--checkpoint', adding]), expect: ['an adding checkpoint; sample needs one trained with --task charlm'] },
  { name: 'sample: the checkpoint is a directory', run: () => cli(['sample', '--checkpoint', p('a-directory')]), expect: [p('a-directory'), 'is a directory'] },
  { name: 'sample: the checkpoint is a named pipe', run: () => cli(['sample', '--checkpoint', fifo], { timeoutMs: 15_000 }), expect: [fifo, 'named pipe'] },
  { name: 'sample: a prompt character outside the vocabulary', run: () => cli(['sample', '--checkpoint', lm, '--prompt', 'the €']), expect: ['--prompt', 'character "€" is not in the model\'s vocabulary'] },
  { name: 'sample: a custom-cell checkpoint without --cell', run: () => cli(['sample', '--checkpoint', custom]), expect: ["trained with the custom cell 'mgu'", '--cell FILE'] },
  { name: 'sample: a custom-cell checkpoint with another cell module', run: () => cli(['sample', '--checkpoint', custom, '--cell', join(root, 'examples/cells/peephole-lstm.mjs')]), expect: [`--cell ${join(root, 'examples/cells/peephole-lstm.mjs')}`, "not the cell the checkpoint was trained with ('mgu'"] },
  { name: 'train --resume: a custom-cell checkpoint without --cell', run: () => cli(['train', '--resume', '--out', custom]), expect: ["trained with the custom cell 'mgu'", '--cell FILE'] },
  { name: 'train --resume: a text checkpoint without --text', run: () => cli(['train', '--resume', '--out', texted]), expect: ["trained on the text 'text.txt'", '--text FILE'] },
  { name: 'train --resume: a text checkpoint with another text', run: () => cli(['train', '--resume', '--out', texted, '--text', join(root, 'README.md')]), expect: [`--text ${join(root, 'README.md')}`, "not the text the checkpoint was trained on ('text.txt'"] },
  { name: 'train --resume: --text for a checkpoint of the embedded text', run: () => cli(['train', '--resume', '--out', lm, '--text', textFile]), expect: ['the checkpoint was trained on the embedded text'] },
  // Hostile checkpoints: nothing they name is imported or opened, no claimed size is allocated.
  { name: 'sample: a v1 checkpoint whose config names a module (nothing imported)', run: () => withoutSideEffect(marker, () => cli(['sample', '--checkpoint', hostile.v1ModulePath()])), expect: ['not a seqgrad checkpoint', 'seqgrad.checkpoint.v1'] },
  { name: 'train --resume: a v1 checkpoint whose config names a module (nothing imported)', run: () => withoutSideEffect(marker, () => cli(['train', '--resume', '--out', hostile.v1ModulePath()])), expect: ['not a seqgrad checkpoint'] },
  { name: 'sample: a config whose cell is a module path (nothing imported)', run: () => withoutSideEffect(marker, () => cli(['sample', '--checkpoint', hostile.v2ModulePath()])), expect: ["corrupt checkpoint: config 'cell'", 'never holds a path'] },
  { name: 'sample: a config naming a custom cell asks for the module, imports nothing', run: () => withoutSideEffect(marker, () => cli(['sample', '--checkpoint', hostile.v2ModuleName()])), expect: ["trained with the custom cell 'evil'", '--cell FILE'] },
  { name: 'train --resume: a config whose text is /etc/passwd (nothing read)', run: () => cli(['train', '--resume', '--out', hostile.textPasswd()]), expect: ["corrupt checkpoint: config 'text'", 'never holds a path'] },
  { name: 'train --resume: a config whose text is a named pipe (nothing opened)', run: () => cli(['train', '--resume', '--out', hostile.textFifo()], { timeoutMs: 15_000 }), expect: ["corrupt checkpoint: config 'text'", 'never holds a path'] },
  { name: 'sample: a config claiming hidden 20000 is refused at once', run: () => cli(['sample', '--checkpoint', hostile.hidden20000()], { timeoutMs: 10_000 }), expect: ["config 'hidden' 20000 is above the limit of 16384"] },
  { name: 'sample: a config claiming hidden 4000 disagrees with the tensors, refused before building', run: () => cli(['sample', '--checkpoint', hostile.hidden4000()], { timeoutMs: 10_000 }), expect: ["tensor 'rnn.weight_ih_l0' has shape [24,16] in the file but the config (hidden 4000, 1 layer(s)) makes [12000,16]"] },
  { name: 'train --resume: a config claiming 100000 layers', run: () => cli(['train', '--resume', '--out', hostile.layers100000()], { timeoutMs: 10_000 }), expect: ["config 'layers' 100000 is above the limit of 1000"] },
  { name: 'sample: F32 weights relabelled I32', run: () => cli(['sample', '--checkpoint', hostile.relabelled()]), expect: ["tensor 'rnn.weight_hh_l0' is I32 in the file but the model holds F32"] },
  { name: 'sample: NaN weights', run: () => cli(['sample', '--checkpoint', hostile.nanWeights()]), expect: ["tensor 'head.weight' [30,8] holds NaN at flat index 3; weights must be finite"] },
  { name: 'sample: a tensor named __proto__', run: () => cli(['sample', '--checkpoint', hostile.protoTensor()]), expect: ["the file has tensor '__proto__', which the model does not"] },
  { name: 'sample: a config with a __proto__ key', run: () => cli(['sample', '--checkpoint', hostile.protoConfig()]), expect: ["config '__proto__' is not a setting seqgrad writes"] },
  { name: 'sample: a truncated checkpoint', run: () => cli(['sample', '--checkpoint', hostile.truncated()]), expect: ['truncated.safetensors: not a valid safetensors file', 'truncated?'] },
  { name: 'train --resume: a checkpoint cut inside its header', run: () => cli(['train', '--resume', '--out', hostile.truncatedHeader()]), expect: [`${p('truncated-header.safetensors')}: not a valid safetensors file: header length`] },
  { name: 'sample: a header length of 2^62', run: () => cli(['sample', '--checkpoint', hostile.hugeHeader()]), expect: ['is above the 100000000-byte limit'] },
  { name: 'sample: a config with a recurrent dropout of 1', run: () => cli(['sample', '--checkpoint', hostile.dropoutOne()]), expect: ["config 'recurrentDropout' is 1, not a number in [0, 1)"] },
  { name: 'sample: a config zoning out c of a GRU', run: () => cli(['sample', '--checkpoint', hostile.zoneoutC()]), expect: ["config 'zoneout' names 'c', which is not a state entry of the gru cell (h)"] },
  { name: 'sample: a config with a zoneout string', run: () => cli(['sample', '--checkpoint', hostile.zoneoutText()]), expect: ["config 'zoneout' is \"0.5\", not a rate or rates per state entry"] },
  { name: 'train --resume: dropout in the config but no mask generator state', run: () => cli(['train', '--resume', '--out', hostile.noMaskRng()]), expect: ['corrupt checkpoint: mask generator is missing, though the config has dropout or zoneout'] },
  { name: 'train --resume: a schedule state of another form', run: () => cli(['train', '--resume', '--out', hostile.schedule()]), expect: ['corrupt checkpoint: learning-rate schedule state.milestones is number, expected array'] },
  { name: 'sample: a step that is not a number', run: () => cli(['sample', '--checkpoint', hostile.badStep()]), expect: ["corrupt checkpoint: step 'abc'"] },
  { name: 'sample: plain safetensors weights, not a checkpoint', run: () => cli(['sample', '--checkpoint', hostile.plain()]), expect: ['plain.safetensors: not a seqgrad checkpoint'] },
];

describe('seqgrad misuse', () => {
  runMisuseSuite('cli', cases);

  test('misuse: no hostile checkpoint made the CLI import a module', () => {
    expect(existsSync(marker)).toBe(false);
  });
});

describe('seqgrad: hostile files on the writing side', () => {
  test('train: symlinks planted at the temporary names the old writer used (<out>.tmp-<pid>) are never followed', () => {
    const d = tmp('seqgrad-symlink-');
    const victim = join(d, 'victim.txt');
    writeFileSync(victim, 'precious');
    const out = join(d, 'ck.safetensors');
    // Pids are handed out in sequence: plant a link for each of the next few hundred.
    const next = Number(execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }));
    for (let pid = next + 1; pid < next + 400; pid++) symlinkSync(victim, `${out}.tmp-${pid}`);
    execFileSync(process.execPath, [bin, 'train', ...tiny, '--task', 'adding', '--out', out], { cwd: root, stdio: 'pipe' });
    expect(readFileSync(victim, 'utf8')).toBe('precious');
    expect(loadSafetensors(readFileSync(out)).metadata.step).toBe('2');
  });
});
