#!/usr/bin/env node
/** The `seqgrad` bin: runs the program and exits with its status. */
import { main } from './program.js';

// A reader that stops reading (`seqgrad sample | head -c 10`) is not an error: quit quietly
// instead of throwing EPIPE from an unhandled 'error' event.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
    throw err;
  });
}

process.exitCode = await main(process.argv.slice(2));
