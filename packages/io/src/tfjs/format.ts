import { SeqgradError, fmt } from '@seqgrad/autograd';

/** One entry of a weights manifest: a named float32 array of the given shape. */
export interface TfjsWeightSpec {
  name: string;
  shape: number[];
  dtype: 'float32';
  /** 'optimizer' for an optimizer's state (`model.save(..., { includeOptimizer: true })`), which is skipped on import. */
  group?: 'model' | 'optimizer';
}

/** One group of a `weightsManifest`: the shards `paths` hold the `weights` back to back. */
export interface TfjsWeightsGroup {
  paths: string[];
  weights: TfjsWeightSpec[];
}

/** The contents of a TensorFlow.js `model.json` for a layers model. */
export interface TfjsModelJson {
  modelTopology: Record<string, unknown>;
  format: 'layers-model';
  generatedBy: string;
  convertedBy: string | null;
  weightsManifest: TfjsWeightsGroup[];
}

/**
 * What `tf.io` hands a save handler and takes in `tf.io.fromMemory`: the topology, the
 * weight specs and every weight in one buffer (or a list of buffers, concatenated).
 */
export interface TfjsModelArtifacts {
  modelTopology: Record<string, unknown>;
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  weightSpecs: TfjsWeightSpec[];
  weightData: ArrayBuffer | ArrayBuffer[] | Uint8Array;
}

/** The files of a saved model: `model.json` (text, bytes or parsed) and its shards by path. */
export interface TfjsModelFiles {
  modelJson: string | Uint8Array | Record<string, unknown>;
  /** Shard bytes keyed by the paths the manifest names (e.g. `group1-shard1of1.bin`). */
  weights?: Record<string, Uint8Array | ArrayBuffer> | Map<string, Uint8Array | ArrayBuffer>;
}

/** Either form: a model's files, or the artifacts `model.save(tf.io.withSaveHandler(...))` receives. */
export type TfjsLayersSource = TfjsModelFiles | TfjsModelArtifacts;

/** A decoded weight, still in the file's layout. */
export interface RawWeight {
  shape: number[];
  data: Float32Array;
}

const OP = 'importTfjsLayers';
// The largest element count a float32 weight may declare (2^31 bytes of data).
const MAX_ELEMENTS = 2 ** 29;

export function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function bytesOf(v: unknown, what: string): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  throw new SeqgradError(OP, `${what} must be a Uint8Array or an ArrayBuffer, got ${v === null ? 'null' : typeof v}`);
}

function parseJson(text: string | Uint8Array | Record<string, unknown>): Record<string, unknown> {
  if (isObject(text)) return text;
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof text === 'string' ? text : new TextDecoder('utf-8', { fatal: true }).decode(text));
  } catch (e) {
    throw new SeqgradError(OP, `modelJson is not valid JSON: ${(e as Error).message}`);
  }
  if (!isObject(parsed)) throw new SeqgradError(OP, 'modelJson must hold a JSON object');
  return parsed;
}

/**
 * Checks one manifest entry; returns its byte length and whether it is skipped (an
 * optimizer's state: its size still counts, its values are not the model's). Nothing is
 * allocated here.
 */
function checkSpec(v: unknown, where: string): TfjsWeightSpec & { bytes: number; skip: boolean } {
  if (!isObject(v)) throw new SeqgradError(OP, `${where} must be an object`);
  const { name, shape, dtype } = v;
  if (typeof name !== 'string' || name === '') throw new SeqgradError(OP, `${where}.name must be a non-empty string`);
  if (!Array.isArray(shape) || shape.some((d) => typeof d !== 'number' || !Number.isInteger(d) || d < 0)) {
    throw new SeqgradError(OP, `weight '${name}': shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  if (v.quantization !== undefined && v.quantization !== null) {
    throw new SeqgradError(OP, `weight '${name}' is quantized (${JSON.stringify(v.quantization)}); only float32 weights are supported`);
  }
  const skip = v.group === 'optimizer';
  if (dtype !== 'float32' && !(skip && dtype === 'int32')) {
    throw new SeqgradError(OP, `weight '${name}' has dtype ${JSON.stringify(dtype)}; only float32 weights are supported`);
  }
  let n = 1;
  for (const d of shape as number[]) {
    n *= d;
    if (n > MAX_ELEMENTS) throw new SeqgradError(OP, `weight '${name}' of shape ${fmt(shape as number[])} is larger than ${MAX_ELEMENTS} elements`);
  }
  return { name, shape: [...(shape as number[])], dtype: 'float32', bytes: 4 * n, skip };
}

interface Group {
  what: string;
  specs: (TfjsWeightSpec & { bytes: number; skip: boolean })[];
  shards: Uint8Array[];
}

/**
 * Validates the manifest against the shard sizes, then decodes every weight (little-endian
 * float32, as TensorFlow.js writes them). Returns the topology and the weights by name.
 * Paths are only looked up in the caller's map; nothing is fetched or followed.
 */
export function readTfjsSource(source: TfjsLayersSource): { topology: Record<string, unknown>; weights: Map<string, RawWeight> } {
  if (!isObject(source)) throw new SeqgradError(OP, 'source must be { modelJson, weights } or tf.io model artifacts { modelTopology, weightSpecs, weightData }');
  const groups: Group[] = [];
  let topology: unknown;
  if ('modelJson' in source) {
    const json = parseJson((source as TfjsModelFiles).modelJson);
    if (json.format !== undefined && json.format !== 'layers-model') {
      throw new SeqgradError(OP, `modelJson.format is ${JSON.stringify(json.format)}; only 'layers-model' (tf.loadLayersModel's format) is supported`);
    }
    topology = json.modelTopology;
    const manifest = json.weightsManifest ?? [];
    if (!Array.isArray(manifest)) throw new SeqgradError(OP, 'modelJson.weightsManifest must be a list of { paths, weights }');
    const files = (source as TfjsModelFiles).weights ?? {};
    const lookup = files instanceof Map ? (k: string) => files.get(k) : (k: string) => (Object.hasOwn(files, k) ? files[k] : undefined);
    const available = () => [...(files instanceof Map ? files.keys() : Object.keys(files))].map((k) => `'${k}'`).join(', ') || 'none';
    manifest.forEach((g, gi) => {
      const what = `weightsManifest[${gi}]`;
      if (!isObject(g) || !Array.isArray(g.paths) || !Array.isArray(g.weights)) throw new SeqgradError(OP, `${what} must be { paths: string[], weights: [...] }`);
      const shards = g.paths.map((p, pi) => {
        if (typeof p !== 'string') throw new SeqgradError(OP, `${what}.paths[${pi}] must be a string`);
        // The manifest's paths are relative to model.json; './x' and 'x' name the same shard.
        const bare = p.replace(/^(\.\/)+/, '');
        const bytes = lookup(p) ?? lookup(bare) ?? lookup(`./${bare}`);
        if (bytes === undefined) throw new SeqgradError(OP, `${what} names shard '${p}', which is not among the weights given (${available()})`);
        return bytesOf(bytes, `weights['${p}']`);
      });
      groups.push({ what: `${what} (${g.paths.map((p) => `'${p}'`).join(', ')})`, specs: g.weights.map((w, wi) => checkSpec(w, `${what}.weights[${wi}]`)), shards });
    });
  } else if ('modelTopology' in source) {
    const art = source as TfjsModelArtifacts;
    if (art.format !== undefined && art.format !== 'layers-model') {
      throw new SeqgradError(OP, `artifacts.format is ${JSON.stringify(art.format)}; only 'layers-model' is supported`);
    }
    topology = art.modelTopology;
    const specs = art.weightSpecs ?? [];
    if (!Array.isArray(specs)) throw new SeqgradError(OP, 'artifacts.weightSpecs must be a list');
    const data = art.weightData === undefined ? [] : Array.isArray(art.weightData) ? art.weightData : [art.weightData];
    groups.push({
      what: 'artifacts.weightData',
      specs: specs.map((w, wi) => checkSpec(w, `weightSpecs[${wi}]`)),
      shards: data.map((d, i) => bytesOf(d, `weightData[${i}]`)),
    });
  } else {
    throw new SeqgradError(OP, 'source must be { modelJson, weights } or tf.io model artifacts { modelTopology, weightSpecs, weightData }');
  }
  if (!isObject(topology)) throw new SeqgradError(OP, 'modelTopology must be a JSON object (a layers model topology)');

  // Every size is checked before a single weight is allocated.
  const seen = new Set<string>();
  for (const g of groups) {
    const need = g.specs.reduce((s, w) => s + w.bytes, 0);
    const have = g.shards.reduce((s, b) => s + b.byteLength, 0);
    if (have !== need) {
      const list = g.specs.map((w) => `${w.name}${fmt(w.shape)}`).join(', ');
      throw new SeqgradError(OP, `${g.what} holds ${have} bytes but its weights [${list}] need ${need} bytes (float32)${have < need ? ': the shard is truncated' : ''}`);
    }
    for (const w of g.specs) {
      if (w.skip) continue;
      if (seen.has(w.name)) throw new SeqgradError(OP, `weight '${w.name}' appears twice in the manifest`);
      seen.add(w.name);
    }
  }

  const weights = new Map<string, RawWeight>();
  for (const g of groups) {
    // The shards of a group are one byte stream (a weight may straddle two shards).
    const all = g.shards.length === 1 ? g.shards[0]! : concatBytes(g.shards);
    const view = new DataView(all.buffer, all.byteOffset, all.byteLength);
    let offset = 0;
    for (const w of g.specs) {
      if (w.skip) {
        offset += w.bytes;
        continue;
      }
      const out = new Float32Array(w.bytes / 4);
      for (let i = 0; i < out.length; i++, offset += 4) out[i] = view.getFloat32(offset, true);
      weights.set(w.name, { shape: w.shape, data: out });
    }
  }
  return { topology, weights };
}

function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, b) => s + b.byteLength, 0));
  let at = 0;
  for (const b of parts) {
    out.set(b, at);
    at += b.byteLength;
  }
  return out;
}
