import fc from 'fast-check';
import { Tensor, tensor, zeros } from '@seqgrad/autograd';
import { GRU, LSTM, Linear } from '@seqgrad/layers';
import { describe, expect, test } from 'vitest';
import { SafetensorsError, loadModule, loadSafetensors, readSafetensorsHeader, saveModule, saveSafetensors } from '@seqgrad/io';

/** safetensors bytes with a hand-written header (a string is used verbatim) and data block. */
function raw(header: unknown, data: Uint8Array = new Uint8Array(0), headerLength?: bigint): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, headerLength ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const f32bytes = (...v: number[]) => new Uint8Array(Float32Array.from(v).buffer);

describe('saveSafetensors / loadSafetensors', () => {
  test('saveSafetensors: writes the published layout (u64 header length, JSON padded to 8, data in name order)', () => {
    const bytes = saveSafetensors({ b: tensor([1, 2], { dtype: 'float64' }), a: tensor([[1.5, -2]]) }, { note: 'héllo' });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    expect(header).toEqual({
      __metadata__: { note: 'héllo' },
      a: { dtype: 'F32', shape: [1, 2], data_offsets: [0, 8] },
      b: { dtype: 'F64', shape: [2], data_offsets: [8, 24] },
    });
    expect(Array.from(new Float32Array(bytes.slice(8 + n, 8 + n + 8).buffer))).toEqual([1.5, -2]);
  });

  test('loadSafetensors: save then load returns the same dtypes, shapes and values (property)', () => {
    const dims = fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 });
    const entry = fc.record({ dtype: fc.constantFrom('float32' as const, 'float64' as const, 'int32' as const), shape: dims, seed: fc.integer() });
    fc.assert(
      fc.property(fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }).filter((s) => s !== '__metadata__'), entry, { maxKeys: 5 }), (spec) => {
        const tensors = new Map<string, Tensor>();
        for (const [name, { dtype, shape, seed }] of Object.entries(spec)) {
          const n = shape.reduce((a, b) => a * b, 1);
          const values = Array.from({ length: n }, (_, i) => (dtype === 'int32' ? ((seed + i * 7919) | 0) : Math.sin(seed + i) * 1e3));
          const data = dtype === 'float32' ? Float32Array.from(values) : dtype === 'float64' ? Float64Array.from(values) : Int32Array.from(values);
          tensors.set(name, new Tensor(data, shape));
        }
        const back = loadSafetensors(saveSafetensors(tensors));
        expect([...back.tensors.keys()].sort()).toEqual([...tensors.keys()].sort());
        for (const [name, t] of tensors) {
          const b = back.tensors.get(name)!;
          expect(b.dtype).toBe(t.dtype);
          expect(b.shape).toEqual(t.shape);
          expect(b.data).toEqual(t.data);
        }
      }),
    );
  });

  test('loadSafetensors: tensor names and metadata keys such as __proto__ and constructor are plain names', () => {
    // A string: in an object literal `__proto__:` would set the prototype instead of a key.
    const bytes = raw(
      '{"__metadata__":{"__proto__":"meta","constructor":"x"},"__proto__":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},' +
        '"constructor":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
      f32bytes(1, 2),
    );
    const { tensors, metadata } = loadSafetensors(bytes);
    expect([...tensors.keys()]).toEqual(['__proto__', 'constructor']);
    expect(tensors.get('__proto__')!.data[0]).toBe(1);
    expect(Object.getPrototypeOf(metadata)).toBe(null);
    expect(metadata.__proto__).toBe('meta');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // And they round-trip.
    const again = loadSafetensors(saveSafetensors(tensors, metadata));
    expect([...again.tensors.keys()].sort()).toEqual(['__proto__', 'constructor']);
    expect(again.metadata.constructor).toBe('x');
  });

  test('loadSafetensors: I64 is read into int32, a value outside the int32 range is refused naming the tensor', () => {
    const ok = new Uint8Array(new BigInt64Array([5n, -3n]).buffer);
    expect(Array.from(loadSafetensors(raw({ ids: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, ok)).tensors.get('ids')!.data)).toEqual([5, -3]);
    const big = new Uint8Array(new BigInt64Array([1n << 40n]).buffer);
    expect(() => loadSafetensors(raw({ ids: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, big))).toThrow(/tensor 'ids' holds 1099511627776 .*outside the int32 range/);
  });

  // Each malformed file, and the reason it is refused. None allocates its claimed size.
  const one = { w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  test.each<[string, Uint8Array, RegExp]>([
    ['empty bytes', new Uint8Array(0), /only 0 bytes, shorter than the 8-byte header length/],
    ['a header length of 2^63', raw(one, f32bytes(1, 2), 1n << 63n), /header length 9223372036854775808 is above the 100000000-byte limit/],
    ['a header length past the end', raw(one, f32bytes(1, 2), 5000n), /header length 5000 runs past the end/],
    ['a header that is not JSON', raw('{"w": nope}  '), /the header is not UTF-8 JSON/],
    ['a header that is invalid UTF-8', (() => { const b = raw('{"w":1}'); b[10] = 0xff; return b; })(), /not UTF-8 JSON/],
    ['a header that is an array', raw([1, 2]), /the header is not a JSON object/],
    ['an entry that is a string', raw({ w: 'F32' }), /entry 'w' is not an object/],
    ['an unknown dtype', raw({ w: { dtype: 'F16', shape: [2], data_offsets: [0, 4] } }, new Uint8Array(4)), /tensor 'w' has dtype F16; seqgrad reads F32, F64, I32, I64/],
    ['an unknown field', raw({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 8], code: 'x' } }, f32bytes(1, 2)), /unknown field\(s\) 'code'/],
    ['a negative dimension', raw({ w: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, f32bytes(1, 2)), /tensor 'w' has shape \[-2\]/],
    ['a fractional dimension', raw({ w: { dtype: 'F32', shape: [1.5], data_offsets: [0, 8] } }, f32bytes(1, 2)), /has shape \[1.5\]/],
    ['a shape whose size overflows', raw({ w: { dtype: 'F32', shape: [2 ** 30, 2 ** 30, 2 ** 30], data_offsets: [0, 8] } }, f32bytes(1, 2)), /too large to address/],
    ['a shape that needs more bytes than its offsets span', raw({ w: { dtype: 'F32', shape: [20000, 20000], data_offsets: [0, 8] } }, f32bytes(1, 2)), /needs 1600000000 bytes but its data_offsets span 8/],
    ['offsets past the end (truncated)', raw({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, f32bytes(1, 2)), /past the end of the 8-byte data block \(truncated\?\)/],
    ['offsets that end before they begin', raw({ w: { dtype: 'F32', shape: [0], data_offsets: [8, 0] } }, f32bytes(1, 2)), /end before they begin/],
    ['overlapping tensors', raw({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, f32bytes(1, 2)), /starts at byte 4 .*expected 8 \(overlap\)/],
    ['a hole between tensors', raw({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } }, f32bytes(1, 2, 3)), /starts at byte 8 .*expected 4 \(hole\)/],
    ['trailing bytes', raw(one, f32bytes(1, 2, 3)), /4 trailing bytes after the last tensor/],
    ['metadata that is not strings', raw({ __metadata__: { step: 3 } }), /__metadata__ 'step' is not a string/],
    ['NaN weights', raw({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, f32bytes(1, NaN)), /tensor 'w' \[2\] holds NaN at flat index 1; weights must be finite/],
    ['infinite weights', raw({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, f32bytes(Infinity, 1)), /tensor 'w' \[2\] holds Infinity at flat index 0/],
  ])('loadSafetensors: %s is refused with the reason', (_, bytes, reason) => {
    let error: unknown;
    try {
      loadSafetensors(bytes, { source: '/some/dir/ck.safetensors' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SafetensorsError);
    expect((error as Error).message).toMatch(/^loadSafetensors: \/some\/dir\/ck\.safetensors: /);
    expect((error as Error).message).toMatch(reason);
  });

  test('loadSafetensors: allowNonFinite reads NaN as data', () => {
    const t = loadSafetensors(raw({ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, f32bytes(NaN)), { allowNonFinite: true }).tensors.get('w')!;
    expect(Number.isNaN(t.data[0])).toBe(true);
  });

  test('loadSafetensors: the expected spec refuses a relabelled dtype, another shape, a missing or an extra tensor', () => {
    const bytes = saveSafetensors({ w: zeros([2, 3]), b: zeros([2]) });
    const spec = { w: { dtype: 'F32' as const, shape: [2, 3] }, b: { dtype: 'F32' as const, shape: [2] } };
    expect(loadSafetensors(bytes, { expect: spec }).tensors.size).toBe(2);
    // F32 bytes relabelled I32: same size, so only the expected dtype catches it.
    const relabelled = raw({ w: { dtype: 'I32', shape: [2], data_offsets: [0, 8] } }, f32bytes(1, 2));
    expect(() => loadSafetensors(relabelled, { expect: { w: { dtype: 'F32', shape: [2] } } })).toThrow(/tensor 'w' is I32 in the file but F32 is expected/);
    expect(() => loadSafetensors(bytes, { expect: { ...spec, w: { dtype: 'F32', shape: [3, 2] } } })).toThrow(/tensor 'w' has shape \[2,3\] in the file but \[3,2\] is expected/);
    expect(() => loadSafetensors(bytes, { expect: { ...spec, c: { dtype: 'F32', shape: [1] } } })).toThrow(/tensor 'c' F32 \[1\] is missing from the file/);
    expect(() => loadSafetensors(bytes, { expect: { w: spec.w } })).toThrow(/the file has tensor 'b', which is not expected/);
    expect(loadSafetensors(bytes, { expect: { w: spec.w }, strict: false }).tensors.size).toBe(2);
  });

  test('readSafetensorsHeader: lists names, dtypes, shapes and offsets without reading the data', () => {
    const { entries, metadata } = readSafetensorsHeader(saveSafetensors({ w: zeros([2, 3]) }, { a: 'b' }));
    expect(entries.get('w')).toEqual({ dtype: 'F32', shape: [2, 3], dataOffsets: [0, 24] });
    expect(metadata.a).toBe('b');
  });

  test('saveSafetensors: refuses what the format cannot hold, naming it', () => {
    expect(() => saveSafetensors({ __metadata__: zeros([1]) })).toThrow(/saveSafetensors: '__metadata__' is reserved/);
    expect(() => saveSafetensors({ w: [1, 2] as unknown as Tensor })).toThrow(/saveSafetensors: tensor 'w' is not a Tensor/);
    expect(() => saveSafetensors({}, { step: 3 as unknown as string })).toThrow(/saveSafetensors: metadata 'step' must be a string/);
  });
});

describe('saveModule / loadModule', () => {
  test('loadModule: a module saved with its description comes back with the same weights and outputs', () => {
    const lstm = new LSTM(3, 4, { numLayers: 2 });
    const bytes = saveModule(lstm, { kind: 'LSTM', inputSize: 3, hiddenSize: 4, numLayers: 2 });
    const { module, description } = loadModule(bytes, (d) => {
      const { inputSize, hiddenSize, numLayers } = d as { inputSize: number; hiddenSize: number; numLayers: number };
      return new LSTM(inputSize, hiddenSize, { numLayers });
    });
    expect(description).toEqual({ kind: 'LSTM', inputSize: 3, hiddenSize: 4, numLayers: 2 });
    for (const [name, p] of lstm.namedParameters()) expect(module.stateDict()[name]!.data).toEqual(p.data);
    // PyTorch's names, so torch's load_state_dict reads the file.
    expect([...readSafetensorsHeader(bytes).entries.keys()]).toContain('weight_hh_l1');
  });

  test('loadModule: a builder that makes another shape is refused before a tensor is read, naming it', () => {
    const bytes = saveModule(new GRU(3, 4), { hidden: 4 });
    expect(() => loadModule(bytes, () => new GRU(3, 5))).toThrow(/loadModule: safetensors data: tensor 'weight_ih_l0' has shape \[12,3\] in the file but \[15,3\] is expected/);
    expect(() => loadModule(bytes, () => new Linear(3, 4))).toThrow(/tensor 'weight' F32 \[4,3\] is missing/);
  });

  test('saveModule: a description that is not plain JSON is refused (no code, no class instances)', () => {
    const lin = new Linear(2, 2);
    expect(() => saveModule(lin, { build: (() => 1) as unknown as number })).toThrow(/saveModule: description.build is a function/);
    expect(() => saveModule(lin, { w: zeros([1]) as unknown as number })).toThrow(/description.w is a Tensor, not a plain object/);
    expect(() => saveModule(lin, { h: NaN })).toThrow(/description.h is NaN/);
  });

  test('loadModule: plain safetensors without a module description is refused with the format it has', () => {
    expect(() => loadModule(saveSafetensors({ w: zeros([1]) }), () => new Linear(1, 1))).toThrow(/loadModule: safetensors data: not a module file: its metadata format is absent/);
  });
});
