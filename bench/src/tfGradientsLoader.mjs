// Node resolve hook for TF.js's gradient registrations. tfjs-core 4.22 ships its gradient
// functions only as ES modules with extensionless relative imports (dist/gradients/Abs_grad),
// which Node cannot resolve as published; the union package @tensorflow/tfjs bundles them but
// needs a core-js install script. This hook retries such a relative import with '.js' or
// '/index.js'. It applies only to files inside @tensorflow/tfjs-core/dist.
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (err) {
    const fromTf = context.parentURL?.includes('/@tensorflow/tfjs-core/dist/');
    if (!fromTf || !(specifier.startsWith('./') || specifier.startsWith('../'))) throw err;
    for (const suffix of ['.js', '/index.js']) {
      try {
        return await next(specifier + suffix, context);
      } catch {}
    }
    throw err;
  }
}
