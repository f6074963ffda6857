import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { Tensor } from '@seqgrad/autograd';
import { loadSafetensors, saveSafetensors } from '@seqgrad/io';
import { bin, buildCli, root, seqgrad, tmp } from './helpers.js';

// Every test runs the built bin as a subprocess, at tiny sizes.
beforeAll(() => buildCli(), 300_000);

/** A bad invocation: status 1, exactly one line on stderr, no stack trace. */
function expectOneLineError(r: { code: number | null; stderr: string }, pattern: RegExp): void {
  expect(r.code).toBe(1);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^seqgrad: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

const tinyCharlm = ['--task', 'charlm', '--cell', 'gru', '--hidden', '8', '--batch', '4', '--seq-len', '8', '--progress', 'none'];

describe.concurrent('seqgrad --help', () => {
  test('help: lists every subcommand', async () => {
    const r = await seqgrad(['--help']);
    expect(r.code).toBe(0);
    for (const sub of ['experiment', 'train', 'sample', 'gradcheck', 'report', 'playground']) expect(r.stdout).toContain(sub);
  });

  test.each(['experiment', 'train', 'sample', 'gradcheck', 'report', 'playground'])('help: %s lists every flag with its default', async (sub) => {
    const r = await seqgrad([sub, '--help']);
    expect(r.code).toBe(0);
    // Join wrapped description lines, then look at each flag's entry.
    const entries = r.stdout
      .split('\n')
      .reduce<string[]>((acc, line) => {
        if (/^\s{2}-/.test(line)) acc.push(line.trim());
        else if (acc.length && /^\s{6,}\S/.test(line)) acc[acc.length - 1] += ` ${line.trim()}`;
        return acc;
      }, [])
      .filter((e) => !e.startsWith('-h, --help'));
    expect(entries.length).toBeGreaterThanOrEqual(sub === 'report' || sub === 'playground' ? 1 : 4);
    for (const e of entries) expect(e, e).toMatch(/\((?:.*, )?default: [^)]+\)|\(required\)|mandatory/);
  });
});

describe.concurrent('seqgrad: bad input', () => {
  test.each([
    [['train', '--bogus'], /unknown option '--bogus'/],
    [['train', '--hidden', 'abc'], /--hidden.*abc/],
    [['train', '--hidden', '0'], /--hidden.*≥ 1/],
    [['train', '--task', 'sorting'], /unknown task 'sorting'/],
    [['train', '--cell', 'transformer'], /unknown cell 'transformer'/],
    [['train', '--lr', '-1'], /--lr.*positive/],
    [['experiment', '--cells', 'lstm,foo'], /unknown cell 'foo'/],
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['sample'], /required option '--checkpoint/],
    [['sample', '--checkpoint', '/nonexistent/x.safetensors'], /no such file/],
    [['train', '--task', 'charlm', '--text', '/nonexistent/t.txt'], /--text .*no such file/],
    [['train', '--resume', '--out', '/nonexistent/ck.safetensors'], /--resume: no checkpoint/],
    [['gradcheck', '--cell', '/nonexistent/cell.mjs'], /no such file/],
    [['report', '/nonexistent/results.json'], /no such file/],
    [['train', '--forget-bias', 'x'], /--forget-bias.*expected a number/],
  ])('bad input: %j gives one line and status 1', async (args, pattern) => {
    expectOneLineError(await seqgrad(args as string[]), pattern);
  });

  test('bad input: a corrupt or truncated checkpoint gives one line', async () => {
    const dir = tmp();
    const garbage = join(dir, 'garbage.safetensors');
    writeFileSync(garbage, 'this is not a checkpoint at all');
    expectOneLineError(await seqgrad(['sample', '--checkpoint', garbage]), /not a valid safetensors file/);

    const out = join(dir, 'ok.safetensors');
    const r = await seqgrad(['train', ...tinyCharlm, '--steps', '2', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const bytes = readFileSync(out);
    const truncated = join(dir, 'truncated.safetensors');
    writeFileSync(truncated, bytes.subarray(0, bytes.length - 10));
    expectOneLineError(await seqgrad(['sample', '--checkpoint', truncated]), /truncated|trailing|past the end/);
    expectOneLineError(await seqgrad(['train', ...tinyCharlm, '--resume', '--out', truncated]), /not a valid safetensors file/);
  });

  test('bad input: a checkpoint that does not match the model names the tensor', async () => {
    const dir = tmp();
    const out = join(dir, 'ck.safetensors');
    expect((await seqgrad(['train', ...tinyCharlm, '--steps', '2', '--out', out])).code).toBe(0);
    const file = loadSafetensors(readFileSync(out));
    const w = file.tensors.get('rnn.weight_hh_l0')!;
    // Same number of values, another shape: the model's (24, 8) becomes (8, 24).
    file.tensors.set('rnn.weight_hh_l0', new Tensor(w.data, [w.shape[1]!, w.shape[0]!]));
    const bad = join(dir, 'reshaped.safetensors');
    writeFileSync(bad, saveSafetensors(file.tensors, file.metadata));
    expectOneLineError(await seqgrad(['sample', '--checkpoint', bad]), /tensor 'rnn\.weight_hh_l0' has shape \[8,24\] in the file but the config \(hidden 8, 1 layer\(s\)\) makes \[24,8\]/);

    file.tensors.set('rnn.weight_hh_l0', w);
    file.tensors.delete('head.bias');
    writeFileSync(bad, saveSafetensors(file.tensors, file.metadata));
    expectOneLineError(await seqgrad(['train', ...tinyCharlm, '--resume', '--out', bad]), /tensor 'head\.bias' .*missing/);
  });

  test('bad input: a resumed run refuses a flag that contradicts the checkpoint', async () => {
    const dir = tmp();
    const out = join(dir, 'ck.safetensors');
    expect((await seqgrad(['train', ...tinyCharlm, '--steps', '2', '--out', out])).code).toBe(0);
    expectOneLineError(await seqgrad(['train', '--resume', '--out', out, '--hidden', '16']), /--hidden 16 differs from the checkpoint's 8/);
  });
});

describe('seqgrad train / sample', () => {
  test('train: charlm writes a checkpoint that sample continues from', async () => {
    const dir = tmp();
    const out = join(dir, 'lm.safetensors');
    const r = await seqgrad(['train', ...tinyCharlm, '--steps', '20', '--checkpoint-every', '5', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/step 20: held-out loss [\d.]+, accuracy [\d.]+%, [\d.]+ bits\/char/);
    const ck = loadSafetensors(readFileSync(out));
    expect(ck.metadata.format).toBe('seqgrad.checkpoint.v2');
    expect(ck.metadata.step).toBe('20');
    // PyTorch's parameter names.
    expect([...ck.tensors.keys()].filter((k) => !k.startsWith('optimizer.')).sort()).toEqual(
      ['embedding.weight', 'head.bias', 'head.weight', 'rnn.bias_hh_l0', 'rnn.bias_ih_l0', 'rnn.weight_hh_l0', 'rnn.weight_ih_l0'],
    );
    const s = await seqgrad(['sample', '--checkpoint', out, '--prompt', 'the ', '--length', '30', '--temperature', '0.5']);
    expect(s.code, s.stderr).toBe(0);
    const text = s.stdout.replace(/\n$/, '');
    expect(text.startsWith('the ')).toBe(true);
    expect(Array.from(text)).toHaveLength(34);
    const again = await seqgrad(['sample', '--checkpoint', out, '--prompt', 'the ', '--length', '30', '--temperature', '0.5']);
    expect(again.stdout).toBe(s.stdout); // seeded
    expectOneLineError(await seqgrad(['sample', '--checkpoint', out, '--prompt', 'the €']), /character "€" is not in the model's vocabulary/);
  });

  test('train: --resume after Ctrl-C continues bit for bit like an uninterrupted run', async () => {
    const dir = tmp();
    const args = ['train', '--task', 'echo', '--cell', 'lstm', '--hidden', '6', '--batch', '4', '--seq-len', '8', '--delay', '2', '--steps', '600', '--checkpoint-every', '1000'];
    const full = join(dir, 'full.safetensors');
    const cut = join(dir, 'cut.safetensors');
    const whole = await seqgrad([...args, '--out', full, '--progress', 'none']);
    expect(whole.code, whole.stderr).toBe(0);

    // Interrupt with SIGINT once training runs, as Ctrl-C would.
    const interrupted = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [bin, ...args, '--out', cut, '--progress', 'lines', '--log-every', '1'], { cwd: root });
      let stderr = '';
      let sent = false;
      child.stderr.on('data', (d) => {
        stderr += d;
        if (!sent && /step 5\//.test(stderr)) {
          sent = true;
          child.kill('SIGINT');
        }
      });
      child.on('close', (code) => resolve({ code, stderr }));
    });
    expect(interrupted.code, interrupted.stderr).toBe(130);
    expect(interrupted.stderr).toMatch(/SIGINT: stopped at step \d+; checkpoint written/);
    const step = Number(loadSafetensors(readFileSync(cut)).metadata.step);
    expect(step).toBeGreaterThanOrEqual(5);
    expect(step).toBeLessThan(600);

    const resumed = await seqgrad(['train', '--resume', '--out', cut, '--progress', 'none']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain(`resuming at step ${step} of 600`);
    // Same bytes: weights, Adam moments, schedule, step and data generator state.
    expect(Buffer.compare(readFileSync(cut), readFileSync(full))).toBe(0);
    expect(resumed.stdout.split('\n')[0]).toBe(whole.stdout.split('\n')[0]);
  });

  test.each(['minimal-cell.mjs', 'class-cell.mjs'])('train: a custom cell module (%s) trains through the same driver', async (file) => {
    const dir = tmp();
    const out = join(dir, 'custom.safetensors');
    const cell = `tests/cli/fixtures/${file}`;
    const r = await seqgrad(['train', '--task', 'adding', '--cell', cell, '--hidden', '5', '--batch', '4', '--seq-len', '6', '--steps', '5', '--progress', 'none', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect([...loadSafetensors(readFileSync(out)).tensors.keys()]).toContain('rnn.cell.weight_hh');
    const g = await seqgrad(['gradcheck', '--cell', cell, '--seq-len', '3', '--hidden', '3']);
    expect(g.code, g.stdout + g.stderr).toBe(0);
    expect(g.stdout).toMatch(/checkBptt .*skipped/);
  });
});

/** Runs `seqgrad <args>` and sends `signal` once stderr matches `when`. */
function interrupt(args: string[], signal: NodeJS.Signals, when: RegExp): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: root });
    let stderr = '';
    let sent = false;
    child.stderr.on('data', (d) => {
      stderr += d;
      if (!sent && when.test(stderr)) {
        sent = true;
        child.kill(signal);
      }
    });
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe.concurrent('seqgrad train: signals, custom cells and texts', () => {
  test.each([['SIGTERM', 143], ['SIGHUP', 129]] as const)('train: %s writes a checkpoint and exits with status %i', async (signal, status) => {
    const out = join(tmp(), 'ck.safetensors');
    const r = await interrupt(['train', '--task', 'adding', '--cell', 'gru', '--hidden', '4', '--batch', '2', '--seq-len', '4', '--steps', '100000', '--checkpoint-every', '100000', '--progress', 'lines', '--log-every', '1', '--out', out], signal, /step 3\//);
    expect(r.code, r.stderr).toBe(status);
    expect(r.stderr).toMatch(new RegExp(`${signal}: stopped at step \\d+; checkpoint written`));
    expect(Number(loadSafetensors(readFileSync(out)).metadata.step)).toBeGreaterThanOrEqual(3);
    // The lock is released and no temporary file is left.
    expect(readdirSync(dirname(out))).toEqual(['ck.safetensors']);
  });

  test('train: a second trainer of the same --out is refused while the first runs', async () => {
    const out = join(tmp(), 'ck.safetensors');
    const first = spawn(process.execPath, [bin, 'train', '--task', 'adding', '--cell', 'gru', '--hidden', '4', '--batch', '2', '--seq-len', '4', '--steps', '100000', '--progress', 'lines', '--log-every', '1', '--out', out], { cwd: root });
    await new Promise<void>((resolve) => first.stderr.on('data', (d) => /step 1\//.test(String(d)) && resolve()));
    const second = await seqgrad(['train', '--task', 'adding', '--steps', '2', '--progress', 'none', '--out', out]);
    first.kill('SIGINT');
    await new Promise((r) => first.on('close', r));
    expectOneLineError(second, new RegExp(`--out ${out}: another process \\(pid ${first.pid}\\) is writing this file`));
  });

  test('train: a custom cell resumes bit for bit when its module is given again', async () => {
    const dir = tmp();
    const cell = 'examples/cells/mgu.mjs';
    const args = ['train', '--task', 'echo', '--cell', cell, '--hidden', '4', '--batch', '4', '--seq-len', '6', '--delay', '2', '--steps', '300', '--checkpoint-every', '1000'];
    const whole = await seqgrad([...args, '--out', join(dir, 'full.safetensors'), '--progress', 'none']);
    expect(whole.code, whole.stderr).toBe(0);
    const cut = join(dir, 'cut.safetensors');
    const stopped = await interrupt([...args, '--out', cut, '--progress', 'lines', '--log-every', '1'], 'SIGINT', /step 5\//);
    expect(stopped.code, stopped.stderr).toBe(130);
    const config = JSON.parse(loadSafetensors(readFileSync(cut)).metadata.config!);
    // Recorded by name and hash: no path to import.
    expect(config.cell).toBe('mgu');
    expect(config.cellSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(config)).not.toContain('/');
    const resumed = await seqgrad(['train', '--resume', '--out', cut, '--cell', cell, '--progress', 'none']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(Buffer.compare(readFileSync(cut), readFileSync(join(dir, 'full.safetensors')))).toBe(0);
  });

  test('train: a text without "t", "h" or "e" trains and samples from a prompt of its own characters', async () => {
    const dir = tmp();
    const text = join(dir, 'abc.txt');
    writeFileSync(text, 'abc cab bca acb '.repeat(10));
    const out = join(dir, 'lm.safetensors');
    const r = await seqgrad(['train', ...tinyCharlm, '--steps', '3', '--text', text, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^sample: "abc /m);
    const config = JSON.parse(loadSafetensors(readFileSync(out)).metadata.config!);
    expect(config.text).toBe('abc.txt');
    expect(config.textSha256).toMatch(/^[0-9a-f]{64}$/);
    const resumed = await seqgrad(['train', '--resume', '--out', out, '--text', text, '--progress', 'none']);
    expect(resumed.code, resumed.stderr).toBe(0);
  });
});

test('train: a reader that closed the pipe ends the command quietly, with no EPIPE, after the checkpoint is written', async () => {
  const out = join(tmp(), 'ck.safetensors');
  const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [bin, 'train', '--task', 'adding', '--hidden', '4', '--batch', '2', '--seq-len', '4', '--steps', '3', '--progress', 'none', '--out', out], { cwd: root });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.destroy(); // the reader is gone before the results are printed
    child.on('close', (code) => resolve({ code, stderr }));
  });
  expect(r.stderr).not.toMatch(/EPIPE|\n\s+at /);
  expect(r.code).toBe(0);
  expect(loadSafetensors(readFileSync(out)).metadata.step).toBe('3');
});

test('experiment: a custom cell runs in the worker threads and is named by its module in the table and the report', async () => {
  const out = join(tmp(), 'report');
  const r = await seqgrad(['experiment', '--tasks', 'adding', '--cells', 'lstm,examples/cells/mgu.mjs', '--clip', 'none', '--steps', '4', '--hidden', '4', '--batch', '4', '--seq-len', '6', '--jobs', '2', '--progress', 'none', '--out', out]);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toMatch(/^adding\s+mgu\s+no clipping/m);
  const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  expect(results.runs.map((run: { cell: string }) => run.cell)).toEqual(['lstm', 'mgu']);
  expect(readFileSync(join(out, 'report.html'), 'utf8')).toMatch(/cell: mgu;/);
});

describe('seqgrad gradcheck', () => {
  test('gradcheck: the built-in cells pass', async () => {
    for (const cell of ['rnn', 'lstm', 'gru']) {
      const r = await seqgrad(['gradcheck', '--cell', cell, '--seq-len', '3', '--hidden', '3']);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/verdict: PASS/);
      expect(r.stdout).toMatch(/checkBptt .*: ok/);
    }
  });

  test('gradcheck: a planted bug is named by time step and gate', async () => {
    const r = await seqgrad(['gradcheck', '--cell', 'tests/cli/fixtures/buggy-lstm-cell.mjs', '--seq-len', '3', '--hidden', '3']);
    expect(r.code).toBe(1);
    // Finite differences: the autograd bug shows at the first step, in a forget-gate row.
    expect(r.stdout).toMatch(/gradcheck .*FAIL at time step t=0: .*weight_ih\[\d+,\d+\], gate f \(forget gate\)/);
    // checkBptt walks back from the last step: the hand backward's sign error shows there first.
    expect(r.stdout).toMatch(/checkBptt .*FAIL at time step t=2: gate f \(forget gate\)/);
    expect(r.stdout).toMatch(/verdict: FAIL/);
  });
});

test('seqgrad --version: prints the version of packages/cli/package.json (one source for it)', async () => {
  const { version } = JSON.parse(readFileSync(join(root, 'packages/cli/package.json'), 'utf8')) as { version: string };
  const r = await seqgrad(['--version']);
  expect(r.code).toBe(0);
  expect(r.stdout.trim()).toBe(version);
});
