import type { FeatureBatch } from '../rankers/ranker';
import { featureDefinition, type FeatureInput } from './registry';

/**
 * Builds the feature rows a ranker declared: one row per input, same order as `inputs`, columns in the order of
 * `features`. A missing value is NaN, whatever the feature.
 */
export function buildFeatureBatch(features: readonly string[], inputs: readonly FeatureInput[]): FeatureBatch {
  const defs = features.map((name) => {
    const def = featureDefinition(name);
    if (!def) throw new Error(`unknown feature "${name}"`);
    return def;
  });
  const width = defs.length;
  const values = new Float64Array(inputs.length * width);
  for (let r = 0; r < inputs.length; r++) {
    const input = inputs[r]!;
    for (let c = 0; c < width; c++) values[r * width + c] = defs[c]!.compute(input);
  }
  return { features, rows: inputs.length, values };
}
