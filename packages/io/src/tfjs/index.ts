export { importTfjsLayers, type ImportTfjsOptions } from './import.js';
export { exportTfjsLayers, type ExportTfjsOptions, type TfjsLayersExport } from './export.js';
export {
  KerasModel,
  type KerasActivation, type KerasMergeMode, type KerasLayerSpec, type KerasRecurrentSpec, type KerasDenseSpec,
  type KerasPlainSpec, type KerasActivationSpec, type KerasModelOptions, type KerasStep,
} from './model.js';
export type { TfjsLayersSource, TfjsModelFiles, TfjsModelArtifacts, TfjsModelJson, TfjsWeightSpec, TfjsWeightsGroup } from './format.js';
