/**
 * The seqgrad repository this CLI was built in. What the published package does not ship (the
 * example cells of a study, the playground page) is found there, and refused, naming the missing
 * file, when the CLI runs from somewhere else.
 */
import { fileURLToPath } from 'node:url';

/** The repository root: packages/cli/{dist,src}/repository.* → three levels up. */
export function repositoryRoot(): string {
  return fileURLToPath(new URL('../../../', import.meta.url));
}
