#!/usr/bin/env node
/** The `seqgrad` bin: runs the program and exits with its status. */
import { main } from './program.js';

process.exitCode = await main(process.argv.slice(2));
