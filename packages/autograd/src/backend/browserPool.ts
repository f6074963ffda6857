/**
 * What the worker-thread GEMM (threadPool.ts) takes from `node:worker_threads`, over Web Workers,
 * for browsers: package.json maps `#worker-threads` here outside Node. With it the same pool, the
 * same split of a product and the same worker code (gemmWorker.js) run in a page, on a shared
 * WebAssembly memory; that needs a cross-origin-isolated page (SharedArrayBuffer), and the thread
 * that calls the GEMM must be a Web Worker (the pool waits in `Atomics.wait`, which a page's main
 * thread may not). `@seqgrad/autograd/threads` checks both before it starts a pool.
 *
 * A Web Worker starts asynchronously: until it runs, the calling thread claims every item of a
 * job itself, so a product never waits for a worker that has not started.
 */

/** The parts of the browser's Worker, MessagePort and MessageChannel used here (this package is typed without the DOM library). */
interface WebPort {
  postMessage(message: unknown): void;
  close(): void;
}
interface WebWorker {
  postMessage(message: unknown, transfer: unknown[]): void;
  addEventListener(type: 'error', listener: (e: { message?: string }) => void): void;
  terminate(): void;
}
interface WebGlobals {
  Worker?: new (url: URL | string, options: { type: 'module'; name?: string }) => WebWorker;
  MessageChannel?: new () => { port1: WebPort; port2: WebPort };
}
const web = globalThis as unknown as WebGlobals;

/** A port as threadPool.ts uses it: `unref` has no meaning in a page. */
export type MessagePort = WebPort & { unref(): void };

export class MessageChannel {
  readonly port1: MessagePort;
  readonly port2: MessagePort;

  constructor() {
    const channel = new web.MessageChannel!();
    this.port1 = Object.assign(channel.port1, { unref() {} });
    this.port2 = Object.assign(channel.port2, { unref() {} });
  }
}

/**
 * A module Web Worker given `workerData` as its first message (browserPoolWorker.js hands it to
 * the worker's code); `on('error')` is the worker's error event, `on('exit')` never fires (a Web
 * Worker has no exit code).
 */
export class Worker {
  private readonly worker: WebWorker;

  constructor(url: URL | string, options: { name?: string; workerData?: unknown; transferList?: unknown[] } = {}) {
    if (!web.Worker) throw new Error('browserPool: this runtime has no Web Worker');
    this.worker = new web.Worker(url, { type: 'module', name: options.name });
    this.worker.postMessage(options.workerData, options.transferList ?? []);
  }

  on(event: 'error' | 'exit', listener: (value: unknown) => void): this {
    if (event === 'error') this.worker.addEventListener('error', (e) => listener(e.message ?? 'error'));
    return this;
  }

  unref(): void {}

  terminate(): void {
    this.worker.terminate();
  }
}

/**
 * Node reads a message from a port synchronously; a page cannot. The workers' error messages stay
 * on their port, so an error in a worker is reported as failed with no message of its own.
 */
export function receiveMessageOnPort(_port: MessagePort): undefined {
  return undefined;
}
