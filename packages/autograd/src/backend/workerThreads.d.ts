// The types of '#worker-threads' and '#worker-data' (package.json "imports"): Node's worker_threads,
// which browserPool.ts and browserPoolWorker.js stand in for in browsers.
export * from 'node:worker_threads';
