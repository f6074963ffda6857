/**
 * @seqgrad/optim — gradient clipping, optimizers and learning-rate schedules with
 * PyTorch's exact update formulas.
 */
export { type ParamsInput, type ParamGroupInput } from './params.js';
export { clipGradNorm, clipGradValue, gradNorm, vectorNorm, type ClipGradNormOptions } from './clip.js';
export { Optimizer, type BaseOptions, type ParamGroup, type ParamState, type OptimizerStateDict } from './optimizer.js';
export { SGD, type SGDOptions } from './sgd.js';
export { Adam, AdamW, type AdamOptions } from './adam.js';
export { RMSprop, type RMSpropOptions } from './rmsprop.js';
export { Adagrad, type AdagradOptions } from './adagrad.js';
export {
  LRScheduler, LinearLR, CosineAnnealingLR, StepLR, ExponentialLR, LambdaLR, SequentialLR, ReduceLROnPlateau,
  type SchedulerStateDict, type ReduceLROnPlateauOptions,
} from './schedulers.js';
