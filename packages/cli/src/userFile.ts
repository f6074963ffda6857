import { createHash } from 'node:crypto';
import { FileError, readRegularFile } from '@seqgrad/io/node';
import { CliError } from './errors.js';

/**
 * Reads a file the user named (a regular file of at most `maxBytes`: never a pipe, a device or
 * a directory). A file that cannot be read is one line naming it: `--text notes.txt: no such file`.
 *
 * @param flag the flag that named it ('--cell', '--text'), or '' for an argument
 * @param shown the path as the user wrote it; `path` is where it is read from
 */
export function readUserFile(flag: string, shown: string, path: string, maxBytes: number): Uint8Array {
  try {
    return readRegularFile(path, { maxBytes });
  } catch (err) {
    if (!(err instanceof FileError)) throw err;
    const reason = err.reason === 'no such file or directory' ? 'no such file' : err.reason;
    throw new CliError(`${flag ? `${flag} ` : ''}${shown}: ${reason}`);
  }
}

/** The SHA-256 of some bytes as 64 hex digits. */
export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
