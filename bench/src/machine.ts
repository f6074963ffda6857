import { cpus } from 'node:os';

/** One line naming the CPU, core count and Node version, for the result files. */
export function machine(): string {
  const c = cpus();
  return `Machine: ${c[0]?.model ?? 'unknown CPU'}, ${c.length} cores, Node ${process.version}.`;
}
