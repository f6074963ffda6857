import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';

/**
 * Every TypeScript code block in docs/ and in the READMEs is extracted and executed here,
 * so the docs cannot rot. Shell blocks are checked for the package scripts they name.
 */
const root = fileURLToPath(new URL('../..', import.meta.url));
const tmp = join(root, 'tests/docs/.tmp');

function markdownFiles(): string[] {
  const files = [join(root, 'README.md')];
  const docs = join(root, 'docs');
  if (existsSync(docs)) {
    for (const f of readdirSync(docs)) if (f.endsWith('.md')) files.push(join(docs, f));
  }
  for (const pkg of readdirSync(join(root, 'packages'))) {
    const readme = join(root, 'packages', pkg, 'README.md');
    if (existsSync(readme)) files.push(readme);
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
          await import(pathToFileURL(path).href);
        });
      });
    blocks
      .filter((b) => b.lang === 'bash' || b.lang === 'sh' || b.lang === 'shell')
      .forEach((b) => {
        test(`docs: ${rel}:${b.line} names existing package scripts`, () => {
          for (const m of b.code.matchAll(/pnpm(?:@[\d.]+)?\s+(?:run\s+)?([\w:-]+)/g)) {
            const script = m[1]!;
            if (['install', 'add', 'exec', 'dlx', '-y', 'i'].includes(script)) continue;
            expect(rootScripts, `${rel}:${b.line} runs 'pnpm ${script}'`).toContain(script);
          }
        });
      });
  });
}
