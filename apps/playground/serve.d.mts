import type { Server } from 'node:http';

/** Starts a static server for `root` on 127.0.0.1 (port 0: any free one). */
export function serveStatic(root: string, port?: number): Promise<{ server: Server; url: string }>;
