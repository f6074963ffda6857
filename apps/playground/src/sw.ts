/**
 * The service worker that lets the page work offline once loaded: on install it caches every
 * file of the build (the list and its version are written into this file by the build), then
 * answers requests from that cache first. A new build has a new version, so its files
 * replace the old ones.
 */
/** Replaced by the build: `{ version, files }`. */
declare const __PLAYGROUND_BUILD__: { version: string; files: string[] };
const BUILD = __PLAYGROUND_BUILD__;
const CACHE = `seqgrad-playground-${BUILD.version}`;

// The parts of the service worker's global scope used here (the project's DOM typings and the
// WebWorker ones cannot be loaded together).
interface ExtendableEvent extends Event {
  waitUntil(promise: Promise<unknown>): void;
}
interface FetchEvent extends ExtendableEvent {
  readonly request: Request;
  respondWith(response: Promise<Response>): void;
}
const sw = self as unknown as {
  readonly registration: { readonly scope: string };
  readonly location: Location;
  readonly clients: { claim(): Promise<void> };
  skipWaiting(): Promise<void>;
  addEventListener(type: 'install' | 'activate', listener: (event: ExtendableEvent) => void): void;
  addEventListener(type: 'fetch', listener: (event: FetchEvent) => void): void;
};

sw.addEventListener('install', (event) => {
  event.waitUntil(
    caches.open(CACHE).then((cache) => cache.addAll(BUILD.files.map((f) => new URL(f, sw.registration.scope).href))).then(() => sw.skipWaiting()),
  );
});

sw.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('seqgrad-playground-') && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => sw.clients.claim()),
  );
});

sw.addEventListener('fetch', (event) => {
  if (event.request.method !== 'GET' || new URL(event.request.url).origin !== sw.location.origin) return;
  event.respondWith(caches.open(CACHE).then(async (cache) => (await cache.match(event.request, { ignoreSearch: true })) ?? fetch(event.request)));
});
