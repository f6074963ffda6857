import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const script = fileURLToPath(new URL('../scripts/build-wasm.mjs', import.meta.url));

test('build-wasm.mjs --check: the committed *Bytes.generated.ts are exactly what the .wat sources assemble to', () => {
  const r = spawnSync(process.execPath, [script, '--check'], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  expect(r.stdout).toContain('gemmBytes.generated.ts is up to date');
  expect(r.stdout).toContain('elementwiseBytes.generated.ts is up to date');
  expect(r.stdout).toContain('gatesBytes.generated.ts is up to date');
});
