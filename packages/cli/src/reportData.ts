/**
 * What one training run yields, as the experiment command collects it and the report renders
 * it: the logged points, the gradient flow, the final figures, and how a run is labelled.
 */

/** One logged point of a training run (loss and accuracy averaged since the previous point). */
export interface HistoryPoint {
  step: number;
  loss: number;
  accuracy: number;
  /** Total gradient norm before clipping, averaged since the previous point. */
  gradNorm: number;
}

/** ‖dL/dh_t‖ at time step t, measured at a training step. */
export interface FlowPoint {
  step: number;
  t: number;
  norm: number;
}

export interface RunResult {
  task: string;
  cell: string;
  /** Max gradient norm, or null for no clipping. */
  clip: number | null;
  /** "lstm", "lstm · clip 1", … */
  label: string;
  history: HistoryPoint[];
  flow: FlowPoint[];
  finalLoss: number;
  finalAccuracy: number;
  /** charlm: bits per character of the final loss. */
  bitsPerChar?: number;
  diverged: boolean;
  /** Ended early by Ctrl-C. */
  stopped?: boolean;
  steps: number;
  seconds: number;
  parameters: number;
}

export interface ReportInput {
  title: string;
  command: string;
  settings: Record<string, string | number | boolean>;
  tasks: Record<string, string>;
  runs: RunResult[];
  totalSeconds: number;
}

/** How a run's clipping appears in labels and legends. */
export function clipLabel(clip: number | null): string {
  return clip === null ? 'no clipping' : `clip ${clip}`;
}
