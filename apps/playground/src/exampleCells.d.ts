// Types of the cell modules in examples/cells/ (plain JavaScript in the factory form of
// docs/custom-cells.md), imported by the worker as `seqgrad-example-cells/<name>`.
import type { BpttCell } from '@seqgrad/layers';

declare const factory: (library: unknown, inputSize: number, hiddenSize: number, opts?: unknown) => unknown;
export default factory;
/** mgu only: the same step written twice, for checkBptt. */
export declare const bpttCell: ((library: unknown, inputSize: number, hiddenSize: number) => BpttCell) | undefined;
