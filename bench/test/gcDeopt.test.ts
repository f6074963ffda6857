import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

// Fused float32 LSTM training steps, a forced full GC, more steps; V8 reports every optimized
// function it throws away. The packed-weight operands live for one sequence only, so without an
// instance kept alive the GC frees their hidden class and V8 drops the optimized time loops.
const script = `
import { Tensor } from '@seqgrad/autograd';
import { LSTM } from '@seqgrad/layers';
const net = new LSTM(32, 64, { batchFirst: true, impl: 'fused' });
const x = new Tensor(new Float32Array(8 * 16 * 32).map((_, i) => Math.sin(i)), [8, 16, 32], true);
const step = () => { net.zeroGrad(); x.grad = null; net.forward(x).output.sum().backward(); };
for (let i = 0; i < 200; i++) step();
console.log('--gc--');
for (let k = 0; k < 3; k++) { globalThis.gc(); for (let i = 0; i < 20; i++) step(); }
`;

test('fused LSTM step: a full GC between steps does not discard the optimized time loops', () => {
  const r = spawnSync(process.execPath, ['--expose-gc', '--trace-opt', '--trace-deopt', '--input-type=module', '-e', script], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    encoding: 'utf8',
    maxBuffer: 64 * 2 ** 20,
  });
  expect(r.status, r.stderr).toBe(0);
  const after = r.stdout.slice(r.stdout.indexOf('--gc--'));
  expect(r.stdout).toContain('--gc--');
  // The loops were optimized before the GCs (else the check below would pass vacuously).
  expect(r.stdout.slice(0, r.stdout.indexOf('--gc--'))).toMatch(/completed (optimizing|compiling).*lstmForwardWasm/);
  const dropped = after.split('\n').filter((l) => /weak objects/.test(l) && /lstmForwardWasm|lstmBackwardWasm|wasmGemmPacked/.test(l));
  expect(dropped).toEqual([]);
}, 60_000);
