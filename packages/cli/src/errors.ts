/**
 * A mistake in what the user asked for (a bad value, a missing or corrupt file, a checkpoint
 * that does not fit): printed as one line, exit status 1, no stack trace.
 */
export class CliError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = 'CliError';
  }
}

/** The first line of an error's message, for a one-line report. */
export function oneLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const lines = msg.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.length <= 1 ? (lines[0] ?? 'unknown error') : `${lines[0]} ${lines.slice(1).join('; ')}`;
}
