/** The page side of compileBrowser.ts: the compiled peers of compilePeers.ts, stepped on request. */
import { type Peer, compilePeers } from './compilePeers.js';
import { SIZES } from './workloads.js';

let peers: Peer[] = [];
const page = globalThis as unknown as { setupPeers: (size: string) => string[]; runPeer: (i: number, reps: number) => void };
page.setupPeers = (size) => {
  peers = compilePeers(SIZES[size]!, { compiledOnly: true });
  return peers.map(([name]) => name);
};
page.runPeer = (i, reps) => {
  for (let k = 0; k < reps; k++) peers[i]![1]();
};
