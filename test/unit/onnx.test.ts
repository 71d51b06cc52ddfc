import path from 'node:path';
import expected from '../fixtures/onnx/expected.json';
import type { FeatureBatch, Ranker, RankerFactoryContext, RankerSpec } from '../../src/rankers/ranker';

// onnxruntime under jest needs the main realm's typed arrays: test/helpers/jest-environment.js provides them.
import { createOnnxRanker } from '../../src/rankers/onnx';

/** Fixtures built by scripts/make_onnx_fixture.py; expected scores are numpy's, in float32. */
const FIXTURES = path.join(__dirname, '..', 'fixtures', 'onnx');
const ctx: RankerFactoryContext = { resolvePath: (p) => path.resolve(FIXTURES, p), ranker: () => undefined };
const FEATURES = Array.from({ length: expected.features }, (_, i) => `f${i}`);

function spec(params: Record<string, unknown>, version = ''): RankerSpec {
  return { id: 'mlp', kind: 'onnx', version, description: 'test MLP', params: { model: 'mlp.onnx', features: FEATURES, ...params } };
}

function fixtureBatch(): FeatureBatch {
  const values = Float64Array.from(expected.rows.flat().map((v) => (v === null ? NaN : v)));
  return { features: FEATURES, rows: expected.rows.length, values };
}

function permute(b: FeatureBatch, perm: number[]): FeatureBatch {
  const w = b.features.length;
  const values = new Float64Array(b.values.length);
  perm.forEach((src, dst) => values.set(b.values.subarray(src * w, src * w + w), dst * w));
  return { ...b, rows: perm.length, values };
}

describe('onnx ranker', () => {
  let ranker: Ranker;
  beforeAll(async () => {
    ranker = await createOnnxRanker(spec({}), ctx);
  });
  afterAll(async () => {
    await ranker.close?.();
  });

  test('scores equal numpy float32 outputs to 1e-5, NaN rows included', async () => {
    const batch = fixtureBatch();
    expect(batch.values.some(Number.isNaN)).toBe(true); // the fixture exercises in-graph imputation
    const scores = await ranker.score(batch);
    expect(scores).toHaveLength(expected.scores.length);
    scores.forEach((s, i) => expect(Math.abs(s - expected.scores[i]!)).toBeLessThan(1e-5));
  });

  test('a shuffled batch gives the identically shuffled scores, and the batch is not modified', async () => {
    const batch = fixtureBatch();
    const before = Float64Array.from(batch.values);
    const scores = await ranker.score(batch);
    expect(batch.values).toEqual(before);
    const n = batch.rows;
    const perm = Array.from({ length: n }, (_, i) => (i * 37 + 11) % n); // 37 is coprime with 100
    const shuffled = await ranker.score(permute(batch, perm));
    expect(Array.from(shuffled)).toEqual(perm.map((src) => scores[src]));
  });

  test('an empty batch gives no scores', async () => {
    expect(await ranker.score({ features: FEATURES, rows: 0, values: new Float64Array(0) })).toHaveLength(0);
  });

  test('version is a short sha256 of the model bytes unless the spec sets one', async () => {
    expect(ranker.version).toMatch(/^[0-9a-f]{12}$/);
    const pinned = await createOnnxRanker(spec({}, 'v7'), ctx);
    expect(pinned.version).toBe('v7');
    await pinned.close?.();
  });

  test('a feature count that differs from the model input is refused at load', async () => {
    await expect(createOnnxRanker(spec({ features: FEATURES.slice(1) }), ctx)).rejects.toThrow(
      /ranker "mlp" \(onnx\): input "features" of .*mlp\.onnx takes 8 features per row, but params\.features lists 7/,
    );
  });

  test('a missing model file is refused with its path in the message', async () => {
    const missing = path.resolve(FIXTURES, 'nope.onnx');
    await expect(createOnnxRanker(spec({ model: 'nope.onnx' }), ctx)).rejects.toThrow(`cannot read model ${missing}`);
  });

  test('unknown input or output names are refused at load, listing the real ones', async () => {
    await expect(createOnnxRanker(spec({ input: 'x' }), ctx)).rejects.toThrow(/has no input "x" \(it has "features"\)/);
    await expect(createOnnxRanker(spec({ output: 'y' }), ctx)).rejects.toThrow(/has no output "y" \(it has "score"\)/);
  });

  test('an output with more than one value per row is refused at load', async () => {
    await expect(createOnnxRanker(spec({ model: 'wide.onnx' }), ctx)).rejects.toThrow(
      /output "score" of .*wide\.onnx has shape \[N, 2\]; expected one score per row/,
    );
  });

  test('bad params are refused with the field name', async () => {
    await expect(createOnnxRanker(spec({ features: [] }), ctx)).rejects.toThrow(/features: features must name at least one feature/);
  });

  test('close releases the session; scoring afterwards rejects clearly; close is idempotent', async () => {
    const r = await createOnnxRanker(spec({}), ctx);
    const pending = r.score(fixtureBatch()); // in flight while close() runs: close waits for it
    await r.close!();
    await expect(pending).resolves.toHaveLength(expected.rows.length);
    await expect(Promise.resolve().then(() => r.score(fixtureBatch()))).rejects.toThrow('ranker "mlp" (onnx): closed');
    await expect(r.close!()).resolves.toBeUndefined();
  });

  test('a batch whose size does not match its rows is refused', async () => {
    await expect(ranker.score({ features: FEATURES, rows: 2, values: new Float64Array(15) })).rejects.toThrow(
      /batch has 15 values for 2 rows of 8 features/,
    );
  });
});
