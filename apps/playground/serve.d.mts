import type { Server } from 'node:http';

/** Cross-Origin-Opener-Policy and Cross-Origin-Embedder-Policy, sent with every response: the page is cross-origin isolated. */
export const ISOLATION_HEADERS: Record<string, string>;

/** Starts a static server for `root` on 127.0.0.1 (port 0: any free one). */
export function serveStatic(root: string, port?: number): Promise<{ server: Server; url: string }>;
