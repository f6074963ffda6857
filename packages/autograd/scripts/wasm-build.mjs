// What the WebAssembly build scripts share: expanding a .wat template, assembling with wabt,
// and writing (or with --check, comparing) the generated TypeScript file that carries the
// module as base64 and the SHA-256 of its source.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import wabtInit from 'wabt';

/**
 * The source with its `section`-BEGIN … `section`-END part (TEMPLATE by default) repeated once
 * per entry of `variants`, each `{NAME}` placeholder replaced by the entry's value (`passes` times,
 * for values that hold placeholders themselves).
 */
export function expandTemplate(file, source, variants, section = 'TEMPLATE', passes = 1) {
  const begin = source.indexOf(`;; ${section}-BEGIN`);
  const end = source.indexOf(`;; ${section}-END`);
  if (begin < 0 || end < begin) throw new Error(`${file}: ${section}-BEGIN / ${section}-END markers missing`);
  const template = source.slice(begin, end);
  const fill = (text, v) => text.replace(/\{(\w+)\}/g, (m, key) => {
    if (!(key in v)) throw new Error(`${file}: unknown placeholder ${m}`);
    return v[key];
  });
  // Each pass fills the placeholders that the values of the previous pass brought in.
  const expand = (v) => { let t = template; for (let p = 0; p < passes; p++) t = fill(t, v); return t; };
  return source.slice(0, begin) + variants.map(expand).join('\n') + source.slice(end);
}

const wabt = await wabtInit();

/** Assembles WAT text with wabt (features as wabt names them: simd, threads). */
export function assemble(file, text, features) {
  const parsed = wabt.parseWat(file, text, features);
  parsed.resolveNames();
  parsed.validate(features);
  const { buffer } = parsed.toBinary({ log: false, write_debug_names: false });
  parsed.destroy();
  return buffer;
}

export const sha256 = (text) => createHash('sha256').update(text).digest('hex');

/** A module's bytes as a TypeScript string expression of 100-character base64 lines. */
export const base64Lines = (buffer) =>
  (Buffer.from(buffer).toString('base64').match(/.{1,100}/g) ?? []).map((l) => `  '${l}'`).join(' +\n');

/** Writes `text` to `target`, or with --check on the command line sets the exit code to 1 if that would change the file. */
export function writeGenerated(target, text, summary) {
  let current = '';
  try { current = readFileSync(target, 'utf8'); } catch {}
  const name = target.split('/').pop();
  if (process.argv.includes('--check')) {
    if (current !== text) {
      console.error(`${target} is out of date: run pnpm build:wasm`);
      process.exitCode = 1;
      return;
    }
    console.log(`${name} is up to date`);
  } else {
    writeFileSync(target, text);
    console.log(`wrote ${target} (${summary})`);
  }
}
