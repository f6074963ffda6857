/**
 * `@seqgrad/io/node`: the file side of the formats, for Node only (the package's main entry
 * stays free of `fs`, so it runs in a page).
 *
 * Writing is atomic and never follows a link an attacker could plant: the bytes go to a
 * temporary file created exclusively (O_CREAT|O_EXCL|O_NOFOLLOW) under an unpredictable name in
 * the target's directory, are flushed to disk and renamed over the target; any failure removes
 * the temporary file, and temporary files left by processes that died are removed on the next
 * write. An advisory lock file holding the writer's pid stops a second process from writing the
 * same path. Reading refuses anything that is not a regular file (a named pipe, a device, a
 * directory) before reading a byte, so a path cannot hang or leak.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync, constants, fstatSync, fsyncSync, lstatSync, openSync, readFileSync, readSync, readdirSync, renameSync, statSync, unlinkSync, writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { SeqgradError } from '@seqgrad/autograd';
import type { Tensor } from '@seqgrad/autograd';
import { type LoadSafetensorsOptions, type LoadedSafetensors, loadAs, saveSafetensors } from './safetensors.js';

/** A file operation that failed; the message names the function, the path and the reason in words. */
export class FileError extends SeqgradError {
  constructor(
    op: string,
    readonly path: string,
    readonly reason: string,
    /** The system error code (ENOENT, EISDIR, …) when there was one. */
    readonly code?: string,
  ) {
    super(op, `${path}: ${reason}`);
    this.name = 'FileError';
  }
}

const REASONS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EISDIR: 'is a directory',
  ENOTDIR: 'a component of the path is not a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'the file system is read-only',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EEXIST: 'already exists',
  ELOOP: 'is a symbolic link (not followed)',
  ENAMETOOLONG: 'the name is too long',
  EMFILE: 'too many open files',
  EBUSY: 'the file is busy',
  EXDEV: 'cannot rename across file systems',
  EPIPE: 'the reader closed the pipe',
};

/** A system error in words (never a raw EEXIST reaching the user). */
export function describeSystemError(err: unknown): { reason: string; code?: string } {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (code && REASONS[code]) return { reason: REASONS[code]!, code };
  return { reason: code ? `system error ${code.toLowerCase()}` : err instanceof Error ? err.message : String(err), code };
}

function fileError(op: string, path: string, err: unknown, what?: string): FileError {
  const { reason, code } = describeSystemError(err);
  return new FileError(op, path, what ? `${what}: ${reason}` : reason, code);
}

/** Whether a process with this pid runs (a pid we may not signal counts as running). */
export function processAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** `.<target>.<pid>.<16 hex>.tmp`: the pid says whose it is, the random part makes it unguessable. */
function tempPattern(target: string): RegExp {
  const esc = basename(target).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^\\.${esc}\\.(\\d+)\\.[0-9a-f]{16}\\.tmp$`);
}

/**
 * Removes the temporary files of `target` that processes no longer running left behind (a
 * crash or kill -9 between create and rename); returns the paths removed. Only regular files
 * matching the temporary-name pattern are touched; links are never followed.
 */
export function cleanStaleTempFiles(target: string): string[] {
  const dir = dirname(target);
  const pattern = tempPattern(target);
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    const m = pattern.exec(name);
    if (!m || processAlive(Number(m[1]))) continue;
    const path = join(dir, name);
    try {
      if (!lstatSync(path).isFile()) continue;
      unlinkSync(path);
      removed.push(path);
    } catch {
      // Removed by another writer in between, or not ours to remove.
    }
  }
  return removed;
}

/** The lock file of a target path. */
export function lockPathOf(target: string): string {
  return join(dirname(target), `.${basename(target)}.lock`);
}

/**
 * Takes the advisory write lock of `target`: a file `.<name>.lock` beside it, created
 * exclusively, holding this process's pid. A lock whose pid no longer runs is taken over; a
 * live one is an error naming the pid. Returns the function that releases the lock. The lock
 * is advisory: it stops writers that use it (every seqgrad writer does), not other programs.
 */
export function acquireWriteLock(target: string): () => void {
  const op = 'acquireWriteLock';
  const lock = lockPathOf(target);
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(lock, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw fileError(op, target, err, `cannot create the lock file ${lock}`);
      let holder = NaN;
      try {
        if (!lstatSync(lock).isFile()) throw new FileError(op, target, `the lock file ${lock} is not a regular file; remove it if no writer runs`);
        holder = Number(readFileSync(lock, 'utf8').trim());
      } catch (e) {
        if (e instanceof FileError) throw e;
        continue; // released in between: try again
      }
      if (processAlive(holder)) {
        throw new FileError(op, target, `another process (pid ${holder}) is writing this file (lock ${lock}); wait for it or stop it, or remove the lock if that process is not a writer`, 'ELOCKED');
      }
      // Left by a process that no longer runs (or unreadable): take it over.
      try {
        unlinkSync(lock);
      } catch {
        // Someone else took it over first; the next attempt sees their lock.
      }
      continue;
    }
    try {
      writeSync(fd, `${process.pid}\n`);
    } finally {
      closeSync(fd);
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      try {
        if (readFileSync(lock, 'utf8').trim() === String(process.pid)) unlinkSync(lock);
      } catch {
        // Already gone.
      }
    };
  }
  throw new FileError(op, target, `could not take the lock ${lock} (it keeps changing hands)`, 'ELOCKED');
}

/**
 * Checks, before any work, that `target` can be written as a file: not empty, not a directory,
 * its directory existing and being a directory. Throws a FileError that says which.
 */
export function checkWritableFile(target: string, op = 'checkWritableFile'): void {
  if (typeof target !== 'string' || target.trim() === '') throw new FileError(op, JSON.stringify(target ?? ''), 'the path is empty');
  if (/[/\\]$/.test(target)) throw new FileError(op, target, 'names a directory (ends with a slash); give a file name');
  try {
    if (statSync(target).isDirectory()) throw new FileError(op, target, 'is a directory; give a file name', 'EISDIR');
  } catch (err) {
    if (err instanceof FileError) throw err;
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw fileError(op, target, err);
  }
  const dir = dirname(target);
  let st;
  try {
    st = statSync(dir);
  } catch (err) {
    throw fileError(op, target, err, `its directory ${dir}`);
  }
  if (!st.isDirectory()) throw new FileError(op, target, `${dir} is not a directory`, 'ENOTDIR');
}

/**
 * Writes bytes to `target` atomically: a temporary file created exclusively beside it
 * (unpredictable name, never following a link), written, fsynced, renamed over the target,
 * and the directory fsynced. On any failure the temporary file is removed and a FileError
 * names the target. Stale temporary files of dead processes are removed first.
 */
export function writeFileAtomic(target: string, bytes: Uint8Array): void {
  const op = 'writeFileAtomic';
  checkWritableFile(target, op);
  cleanStaleTempFiles(target);
  const tmp = join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(8).toString('hex')}.tmp`);
  let fd: number;
  try {
    fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o666);
  } catch (err) {
    throw fileError(op, target, err, 'cannot create a temporary file beside it');
  }
  try {
    try {
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, target);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // Never created or already renamed.
    }
    throw fileError(op, target, err, 'cannot write');
  }
  try {
    const dfd = openSync(dirname(target), constants.O_RDONLY);
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    // Some file systems cannot fsync a directory; the rename itself is still atomic.
  }
}

/**
 * Reads a whole regular file. A named pipe, a device or a directory is refused before a byte
 * is read (opened non-blocking, checked with fstat), so a path cannot hang the reader; a file
 * above `maxBytes` is refused unread.
 */
export function readRegularFile(path: string, opts: { maxBytes?: number; what?: string } = {}): Uint8Array {
  const op = opts.what ?? 'readRegularFile';
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw fileError(op, path, err);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new FileError(op, path, 'is a directory, not a file', 'EISDIR');
    if (!st.isFile()) throw new FileError(op, path, `is not a regular file (${st.isFIFO() ? 'a named pipe' : st.isSocket() ? 'a socket' : 'a device'}); give a file`);
    const max = opts.maxBytes ?? Number.MAX_SAFE_INTEGER;
    if (st.size > max) throw new FileError(op, path, `is ${st.size} bytes, above the limit of ${max}`);
    const out = new Uint8Array(st.size);
    let off = 0;
    while (off < out.length) {
      const n = readSync(fd, out, off, out.length - off, off);
      if (n === 0) break;
      off += n;
    }
    if (off !== out.length) throw new FileError(op, path, `changed while being read (${off} of ${out.length} bytes)`);
    return out;
  } catch (err) {
    if (err instanceof FileError) throw err;
    throw fileError(op, path, err);
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes a .safetensors file atomically under the write lock of its path (see `writeFileAtomic`
 * and `acquireWriteLock`).
 *
 * @example
 * saveSafetensorsFile('/tmp/w.safetensors', { w: zeros([2, 2]) });
 */
export function saveSafetensorsFile(path: string, tensors: ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>, metadata?: Readonly<Record<string, string>>): void {
  const bytes = saveSafetensors(tensors, metadata);
  const release = acquireWriteLock(path);
  try {
    writeFileAtomic(path, bytes);
  } finally {
    release();
  }
}

/**
 * Reads a .safetensors file (a regular file only) and parses it with `loadSafetensors`; errors
 * name the file by the path given.
 */
export function loadSafetensorsFile(path: string, opts: Omit<LoadSafetensorsOptions, 'source'> = {}): LoadedSafetensors {
  const bytes = readRegularFile(path, { what: 'loadSafetensorsFile' });
  return loadAs('loadSafetensorsFile', bytes, { ...opts, source: path });
}
