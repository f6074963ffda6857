/** The page side of compileBrowser.ts: the peers of compilePeers.ts timed with the page's clock. */
import { compilePeers, runRounds } from './compilePeers.js';
import { SIZES } from './workloads.js';

(globalThis as { runCompileBench?: unknown }).runCompileBench = (size: string, rounds: number, reps: number) =>
  runRounds(compilePeers(SIZES[size]!, { compiledOnly: true }), rounds, reps, () => performance.now());
