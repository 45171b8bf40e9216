/**
 * The label object of one series, made once when the series is made and kept
 * by it, so the exposition never rebuilds it (and prom-client's registry can
 * cache its rendering, which it keys by this object).
 */
export function labelObject(labelNames: readonly string[], values: readonly string[]): Readonly<Record<string, string>> {
  if (values.length !== labelNames.length) {
    throw new Error(`${values.length} label values for the ${labelNames.length} labels ${labelNames.join(', ')}`);
  }
  const labels: Record<string, string> = {};
  // Keys in labelNames order: the order prom-client writes them in.
  labelNames.forEach((name, i) => (labels[name] = values[i]!));
  return Object.freeze(labels);
}
