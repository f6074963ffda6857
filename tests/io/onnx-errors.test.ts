import { readFileSync, readdirSync } from 'node:fs';
import { SeqgradError, Tensor, randn, tensor } from '@seqgrad/autograd';
import { type OnnxModelProto, decodeOnnxModel, encodeOnnxModel, exportOnnx, importOnnx } from '@seqgrad/io';
import { Linear } from '@seqgrad/layers';
import { fc, test as propTest } from '@fast-check/vitest';
import { describe, expect, test } from 'vitest';

const fixture = (name: string) => new Uint8Array(readFileSync(new URL(`../fixtures/onnx/${name}.onnx`, import.meta.url)));

/** A fixture decoded, edited by `edit`, and encoded again. */
function edited(name: string, edit: (m: OnnxModelProto) => void): Uint8Array {
  const m = decodeOnnxModel(fixture(name));
  edit(m);
  return encodeOnnxModel(m);
}

function refusal(bytes: Uint8Array): string {
  try {
    importOnnx(bytes);
  } catch (err) {
    expect(err).toBeInstanceOf(SeqgradError);
    return (err as Error).message;
  }
  throw new Error('importOnnx accepted the file');
}

describe('importOnnx: bad files', () => {
  test('importOnnx: a truncated protobuf is refused as truncated', () => {
    const bytes = fixture('emb_lstm');
    expect(refusal(bytes.subarray(0, Math.floor(bytes.length / 2)))).toMatch(/^importOnnx: the \d+ bytes are not a valid ONNX model \(truncated or corrupt protobuf: /);
  });

  test('importOnnx: every truncation of a model is refused, none runs', () => {
    const bytes = fixture('lstm_states');
    for (let n = 0; n < bytes.length; n += 7) expect(() => importOnnx(bytes.subarray(0, n)), `cut at ${n}`).toThrow(SeqgradError);
  });

  test('importOnnx: a tensor whose data is shorter than its shape is refused, naming it and both sizes', () => {
    const bytes = edited('mlp', (m) => {
      const t = m.graph!.initializer!.find((i) => i.name === 'net.0.weight')!;
      t.rawData = t.rawData!.subarray(0, 4 * 30);
    });
    expect(refusal(bytes)).toBe("importOnnx: initializer 'net.0.weight'[8,5] (FLOAT) needs 40 elements but its data holds 30: the tensor is truncated or corrupt");
  });

  test('importOnnx: an operator that does not exist is refused with its name and the node index', () => {
    const bytes = edited('mlp', (m) => {
      m.graph!.node![1]!.opType = 'Frobnicate';
    });
    expect(refusal(bytes)).toMatch(/^importOnnx: node 1 \(Frobnicate '.*'\): 'Frobnicate' is not an ONNX operator$/);
  });

  test('importOnnx: an ONNX operator seqgrad does not run is refused with its name and the node index', () => {
    const bytes = edited('mlp', (m) => {
      m.graph!.node![1]!.opType = 'Conv';
    });
    expect(refusal(bytes)).toMatch(/^importOnnx: node 1 \(Conv '.*'\): operator 'Conv' is not supported by seqgrad's importer$/);
    const custom = edited('mlp', (m) => {
      m.graph!.node![0]!.domain = 'com.microsoft';
    });
    expect(refusal(custom)).toMatch(/node 0 .* of domain 'com\.microsoft' is not supported/);
  });

  test('importOnnx: a graph with a cycle is refused, naming the nodes on it', () => {
    const bytes = edited('mlp', (m) => {
      const [a, b] = m.graph!.node!;
      a!.input![0] = b!.output![0]!; // node 0 now reads node 1's output, which reads node 0's
    });
    expect(refusal(bytes)).toMatch(/^importOnnx: the graph has a cycle: node 0 \(Gemm .*\), node 1 \(Relu .*\)/);
  });

  test('importOnnx: external data is refused and never opened', () => {
    const bytes = edited('mlp', (m) => {
      const t = m.graph!.initializer![0]!;
      t.rawData = new Uint8Array();
      t.dataLocation = 1;
      t.externalData = [{ key: 'location', value: '/etc/passwd' }];
    });
    expect(refusal(bytes)).toMatch(/refers to external data \(location=\/etc\/passwd\); seqgrad reads self-contained models only/);
  });

  test('importOnnx: a dangling reference, an old opset, no graph and a non-Uint8Array are refused', () => {
    expect(refusal(edited('mlp', (m) => { m.graph!.node![2]!.input![0] = 'nowhere'; }))).toMatch(/node 2 .*input 'nowhere' is not a graph input, an initializer or any node's output/);
    expect(refusal(edited('mlp', (m) => { m.opsetImport = [{ domain: '', version: 8 }]; }))).toMatch(/opset 8 of the default domain: seqgrad imports opsets 9 to/);
    expect(refusal(new Uint8Array())).toMatch(/hold no ONNX graph/);
    expect(refusal(new TextEncoder().encode('{"format": "not onnx at all"}'))).toMatch(/^importOnnx: /);
    expect(() => importOnnx([1, 2, 3] as never)).toThrow(/importOnnx: bytes must be a Uint8Array/);
  });
});

describe('importOnnx: sizes a file asks for', () => {
  test('run: a ConstantOfShape of 10¹⁰ elements is refused before any allocation', () => {
    const bytes = encodeOnnxModel({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      graph: {
        name: 'huge',
        node: [
          { opType: 'Constant', input: [], output: ['shape'], attribute: [{ name: 'value_ints', type: 7, ints: [100000, 100000] }] },
          { opType: 'ConstantOfShape', input: ['shape'], output: ['y'], name: 'fill' },
        ],
        output: [{ name: 'y', type: { tensorType: { elemType: 1 } } }],
      },
    });
    const { run } = importOnnx(bytes);
    expect(() => run({})).toThrow(/^importOnnx: node 1 \(ConstantOfShape 'fill'\): shape \[100000,100000\] asks for 10000000000 elements, more than the 134217728/);
  });
});

describe('OnnxModule.run: feeds', () => {
  const { run } = importOnnx(exportOnnx(new Linear(3, 2), randn([1, 3])));
  test('run: a missing, unknown, wrongly typed or wrongly shaped input is refused by name', () => {
    expect(() => run({})).toThrow("run: input 'input' is missing (inputs: input)");
    expect(() => run({ input: randn([2, 3]), other: randn([1]) })).toThrow(/feed 'other' is not an input of the graph/);
    expect(() => run({ input: randn([2, 3], { dtype: 'float64' }) })).toThrow(/input 'input'\[2,3\] is float64 but the model runs in float32/);
    expect(() => run({ input: randn([2, 4]) })).toThrow("run: input 'input'[2,4] does not match the graph's shape [batch,3]");
    expect(() => run({ input: tensor([[1, 2, 3]], { dtype: 'int32' }) })).toThrow(/is int32 but the model runs in float32/);
    expect(run({ input: new Tensor(new Float32Array(12), [4, 3]) }).output!.shape).toEqual([4, 2]);
  });

  test('run: an initializer listed among the graph inputs (IR < 4 style) is a parameter, not a feed', () => {
    const bytes = edited('mlp', (m) => {
      m.graph!.input!.push({ name: 'net.0.bias', type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 8 }] } } } });
    });
    const imported = importOnnx(bytes);
    const x = randn([2, 5]);
    expect(imported.run({ x }).probs!.shape).toEqual([2, 3]);
    expect(() => imported.run({ x, 'net.0.bias': randn([8]) })).toThrow(/feed 'net\.0\.bias' names an initializer, which is a parameter of the module here/);
  });
});

describe('@seqgrad/io ONNX sources', () => {
  test('exportOnnx/importOnnx: the library code imports no Node module, so it runs in browsers', () => {
    const dir = new URL('../../packages/io/src/onnx/', import.meta.url);
    const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(5);
    for (const f of files) {
      const imports = [...readFileSync(new URL(f, dir), 'utf8').matchAll(/from '([^']+)'/g)].map((m) => m[1]!);
      for (const i of imports) expect(i, `${f} imports ${i}`).toMatch(/^(\.\/|@seqgrad\/(autograd|layers)$|protobufjs\/light\.js$)/);
    }
  });
});

describe('importOnnx: corrupted bytes', () => {
  const fixtureFeeds = (name: string): Record<string, Tensor> => {
    const rec = JSON.parse(readFileSync(new URL(`../fixtures/onnx/${name}.json`, import.meta.url), 'utf8')) as { inputs: Record<string, { dtype: string; shape: number[]; data: number[] }> };
    return Object.fromEntries(Object.entries(rec.inputs).map(([k, v]) => [k, v.dtype.startsWith('int') ? new Tensor(Int32Array.from(v.data), v.shape) : new Tensor(Float32Array.from(v.data), v.shape)]));
  };
  for (const name of ['rnn_relu', 'lstm_states', 'emb_lstm', 'activations_opset17']) {
    const bytes = fixture(name);
    const feeds = fixtureFeeds(name);
    propTest.prop([fc.array(fc.record({ at: fc.nat({ max: bytes.length - 1 }), value: fc.nat({ max: 255 }) }), { minLength: 1, maxLength: 4 })])(
      `importOnnx: ${name} with random bytes overwritten is refused with a SeqgradError or runs; it never fails any other way`,
      (edits) => {
        const bad = bytes.slice();
        for (const e of edits) bad[e.at] = e.value;
        try {
          importOnnx(bad).run(feeds);
        } catch (err) {
          if (!(err instanceof SeqgradError)) throw err;
        }
      },
    );
  }
});
