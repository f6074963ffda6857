import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tensor } from '@seqgrad/autograd';
import { loadSafetensors } from '@seqgrad/io';
import {
  FileError, acquireWriteLock, checkWritableFile, cleanStaleTempFiles, loadSafetensorsFile, lockPathOf, readRegularFile, saveSafetensorsFile, writeFileAtomic,
} from '@seqgrad/io/node';
import { describe, expect, test } from 'vitest';

const dir = () => mkdtempSync(join(tmpdir(), 'seqgrad-io-'));

/** The pid of a process that has exited (so no process runs under it, barring reuse within the test). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

describe('writeFileAtomic', () => {
  test('writeFileAtomic: writes the bytes and leaves no temporary file behind', () => {
    const d = dir();
    const target = join(d, 'ck.safetensors');
    writeFileAtomic(target, Uint8Array.from([1, 2, 3]));
    writeFileAtomic(target, Uint8Array.from([4, 5]));
    expect([...readFileSync(target)]).toEqual([4, 5]);
    expect(readdirSync(d)).toEqual(['ck.safetensors']);
  });

  test('writeFileAtomic: a symlink planted at a temporary name is never followed', () => {
    const d = dir();
    const victim = join(d, 'victim.txt');
    writeFileSync(victim, 'precious');
    const target = join(d, 'ck.safetensors');
    // Plant links at every name an attacker could predict: the old `<out>.tmp-<pid>` scheme and
    // the new pattern with this pid (its random part cannot be guessed).
    symlinkSync(victim, `${target}.tmp-${process.pid}`);
    symlinkSync(victim, join(d, `.ck.safetensors.${process.pid}.0000000000000000.tmp`));
    for (let i = 0; i < 20; i++) writeFileAtomic(target, Uint8Array.from([i]));
    expect(readFileSync(victim, 'utf8')).toBe('precious');
    expect([...readFileSync(target)]).toEqual([19]);
  });

  test('writeFileAtomic: stale temporary files of dead processes are removed on the next write, live ones kept', () => {
    const d = dir();
    const target = join(d, 'ck.safetensors');
    const dead = join(d, `.ck.safetensors.${deadPid()}.0123456789abcdef.tmp`);
    const live = join(d, `.ck.safetensors.${process.ppid}.0123456789abcdef.tmp`);
    const other = join(d, `.other.safetensors.${deadPid()}.0123456789abcdef.tmp`);
    for (const f of [dead, live, other]) writeFileSync(f, 'x'.repeat(1000));
    writeFileAtomic(target, Uint8Array.from([1]));
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(live)).toBe(true);
    expect(existsSync(other)).toBe(true);
    expect(cleanStaleTempFiles(target)).toEqual([]);
  });

  test('writeFileAtomic: a target that is a directory, empty, or in a missing directory is refused in words, with no temporary file left', () => {
    const d = dir();
    mkdirSync(join(d, 'sub'));
    const attempt = (path: string) => {
      try {
        writeFileAtomic(path, Uint8Array.from([1]));
      } catch (e) {
        return e as FileError;
      }
      throw new Error('no error');
    };
    expect(attempt(join(d, 'sub')).message).toBe(`writeFileAtomic: ${join(d, 'sub')}: is a directory; give a file name`);
    expect(attempt('').message).toMatch(/writeFileAtomic: "": the path is empty/);
    expect(attempt(join(d, 'missing', 'ck.safetensors')).message).toMatch(/its directory .*missing: no such file or directory/);
    expect(attempt(join(d, 'sub') + '/').message).toMatch(/ends with a slash/);
    expect(readdirSync(d)).toEqual(['sub']);
    expect(() => checkWritableFile(join(d, 'ok.bin'))).not.toThrow();
  });

  test('writeFileAtomic: kill -9 in the middle of writes never leaves a partial target (and the next write cleans up)', async () => {
    const d = dir();
    const target = join(d, 'big.bin');
    const script = `
      import { writeFileAtomic } from ${JSON.stringify(join(process.cwd(), 'packages/io/dist/node.js'))};
      const n = 8 * 1024 * 1024;
      for (let k = 1; ; k++) writeFileAtomic(${JSON.stringify(target)}, new Uint8Array(n).fill(k % 251));
    `;
    execFileSync(process.execPath, [join(process.cwd(), 'node_modules/typescript/bin/tsc'), '-b', 'packages/io']);
    for (let round = 0; round < 3; round++) {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script]);
      await new Promise((r) => setTimeout(r, 400 + 150 * round));
      child.kill('SIGKILL');
      await new Promise((r) => child.on('close', r));
      if (existsSync(target)) {
        const bytes = readFileSync(target);
        expect(bytes.length).toBe(8 * 1024 * 1024);
        expect(bytes.every((b) => b === bytes[0])).toBe(true);
      }
    }
    writeFileAtomic(target, Uint8Array.from([7]));
    expect(readdirSync(d)).toEqual(['big.bin']);
  }, 60_000);
});

describe('acquireWriteLock', () => {
  test('acquireWriteLock: a second writer of the same path is refused naming the holder; release frees it', () => {
    const target = join(dir(), 'ck.safetensors');
    const release = acquireWriteLock(target);
    expect(readFileSync(lockPathOf(target), 'utf8').trim()).toBe(String(process.pid));
    // Another live process's lock (our parent's pid stands in for it).
    release();
    writeFileSync(lockPathOf(target), `${process.ppid}\n`);
    expect(() => acquireWriteLock(target)).toThrow(new RegExp(`another process \\(pid ${process.ppid}\\) is writing this file`));
    // A lock left by a dead process is taken over.
    writeFileSync(lockPathOf(target), `${deadPid()}\n`);
    const again = acquireWriteLock(target);
    expect(readFileSync(lockPathOf(target), 'utf8').trim()).toBe(String(process.pid));
    again();
    expect(existsSync(lockPathOf(target))).toBe(false);
  });
});

describe('readRegularFile / loadSafetensorsFile / saveSafetensorsFile', () => {
  test('readRegularFile: a named pipe is refused at once instead of hanging', () => {
    const fifo = join(dir(), 'pipe');
    execFileSync('mkfifo', [fifo]);
    const t0 = Date.now();
    expect(() => readRegularFile(fifo)).toThrow(/is not a regular file \(a named pipe\); give a file/);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(() => readRegularFile(dir())).toThrow(/is a directory, not a file/);
    expect(() => readRegularFile('/nonexistent/x')).toThrow(/readRegularFile: \/nonexistent\/x: no such file or directory/);
  });

  test('loadSafetensorsFile: errors name the file by its full path', () => {
    const d = dir();
    const path = join(d, 'bad.safetensors');
    writeFileSync(path, 'not a checkpoint');
    expect(() => loadSafetensorsFile(path)).toThrow(`loadSafetensorsFile: ${path}: not a valid safetensors file`);
  });

  test('saveSafetensorsFile: writes under the lock and reads back', () => {
    const path = join(dir(), 'w.safetensors');
    saveSafetensorsFile(path, { w: tensor([[1, 2]]) }, { a: 'b' });
    const back = loadSafetensorsFile(path);
    expect(back.tensors.get('w')!.toArray()).toEqual([[1, 2]]);
    // A Node Buffer (a view into a shared pool) reads the same as a plain Uint8Array.
    const fromBuffer = loadSafetensors(readFileSync(path));
    expect(fromBuffer.tensors.get('w')!.toArray()).toEqual([[1, 2]]);
    expect(fromBuffer.metadata.a).toBe('b');
    expect(existsSync(lockPathOf(path))).toBe(false);
  });
});
