/**
 * Checkpoint files (Node only): written atomically, read as a regular file of bounded size; the
 * format itself (encoding, header checks, tensors) is in checkpoint.ts.
 */
import { FileError, readRegularFile, writeFileAtomic } from '@seqgrad/io/node';
import { type CheckpointData, type CheckpointHeader, encodeCheckpoint, parseCheckpointHeader } from './checkpoint.js';
import { CliError } from './errors.js';

/** A checkpoint above this size is refused unread (the CLI's models are far smaller). */
export const MAX_CHECKPOINT_BYTES = 4 * 1024 ** 3;

/** Writes a checkpoint atomically (exclusive temporary file, fsync, rename); errors name the path. */
export function saveCheckpoint(path: string, data: CheckpointData): void {
  const bytes = encodeCheckpoint(data);
  try {
    writeFileAtomic(path, bytes);
  } catch (err) {
    if (err instanceof FileError) throw new CliError(`cannot write the checkpoint ${err.path}: ${err.reason}`);
    throw err;
  }
}

/** Reads a checkpoint file and checks its header and metadata (nothing is allocated but the bytes and the JSON). */
export function readCheckpointHeader(path: string): CheckpointHeader {
  let bytes: Uint8Array;
  try {
    bytes = readRegularFile(path, { maxBytes: MAX_CHECKPOINT_BYTES });
  } catch (err) {
    if (err instanceof FileError) throw new CliError(`${err.path}: ${err.reason}`);
    throw err;
  }
  return parseCheckpointHeader(bytes, path);
}
