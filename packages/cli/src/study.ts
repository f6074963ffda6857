/**
 * Named studies of `seqgrad experiment --study <name>`: a preset list of custom cells and the
 * settings they are compared with. The cells are module files of the seqgrad repository's
 * examples/ directory, which the published package does not ship, so a study is found relative
 * to the repository this CLI was built in (packages/cli/dist → the root) and refused, naming the
 * missing file, when the CLI runs from somewhere else.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CliError } from './errors.js';
import { repositoryRoot } from './repository.js';
import type { TaskName } from './tasks.js';

export interface Study {
  /** Report title. */
  title: string;
  /** Where the cell modules live, relative to the repository root. */
  dir: string;
  /** The cells compared, by module base name, in report order. */
  variants: readonly string[];
  /** Settings the study uses unless a flag is given. */
  tasks: TaskName[];
  clip: (number | null)[];
  hidden: number;
  steps: Record<'adding' | 'echo' | 'charlm', number>;
  seqLen: Record<'adding' | 'echo' | 'charlm', number>;
}

export const STUDIES = {
  'lstm-variants': {
    title: 'seqgrad experiment --study lstm-variants: the LSTM variants of Greff et al. (2017)',
    dir: 'examples/cells/lstm-variants',
    variants: ['vanilla', 'nig', 'nfg', 'nog', 'niaf', 'noaf', 'np', 'cifg', 'fgr'],
    tasks: ['adding', 'charlm'],
    clip: [1],
    hidden: 16,
    steps: { adding: 400, echo: 200, charlm: 200 },
    seqLen: { adding: 15, echo: 20, charlm: 24 },
  },
} as const satisfies Record<string, Study>;

export type StudyName = keyof typeof STUDIES;
export const STUDY_NAMES = Object.keys(STUDIES) as StudyName[];

export function isStudyName(v: string): v is StudyName {
  return Object.hasOwn(STUDIES, v);
}

/**
 * The module paths of a study's cells (all of them, or the `variants` named), absolute, each
 * checked to exist. An unknown variant or a missing file is an error naming it.
 */
export function studyCellPaths(name: StudyName, variants: string[] | null, root = repositoryRoot()): string[] {
  const study: Study = STUDIES[name];
  const chosen = variants ?? [...study.variants];
  for (const v of chosen) {
    if (!study.variants.includes(v)) throw new CliError(`--variants: '${v}' is not a variant of the study ${name} (choose from ${study.variants.join(', ')})`);
  }
  return [...new Set(chosen)].map((v) => {
    const path = join(root, study.dir, `${v}.mjs`);
    if (!existsSync(path)) {
      throw new CliError(`--study ${name}: ${path} is missing; the study's cells are read from ${study.dir}/ of the seqgrad repository, so run it from a checkout of the repository (a CLI installed without examples/ cannot run it)`);
    }
    return path;
  });
}
