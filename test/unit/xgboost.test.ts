/**
 * The xgboost ranker against outputs xgboost 1.7.4 itself produced for committed models
 * (test/fixtures/xgboost, written by scripts/train_fixtures.py).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseCsvMatrix, parseLibsvmMatrix, type DataMatrix } from '../../src/mle/formats';
import type { FeatureBatch, Ranker, RankerSpec } from '../../src/rankers/ranker';
import { createXgboostRanker } from '../../src/rankers/xgboost';
import { loadXgboostModelSync, parseXgboostModel, probToMargin, type XgbModel } from '../../src/rankers/xgboost/model';
import { predictMargins, predictionsFromMargins, sigmoid32 } from '../../src/rankers/xgboost/predict';
import { treeShap } from '../../src/rankers/xgboost/treeshap';

const FIXTURES = path.resolve(__dirname, '../fixtures/xgboost');
const fixture = (name: string) => path.join(FIXTURES, name);

interface Expected {
  model: string;
  input: string;
  rows: number;
  features?: string[];
  margins: number[];
  predictions?: number[];
  contribs?: number[];
  ndcg10?: number;
}
const expected = (name: string): Expected => JSON.parse(readFileSync(fixture(`${name}.expected.json`), 'utf8')) as Expected;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

/** Parity errors seen, printed once at the end (the report quotes them). */
const seen: Record<string, number> = {};
afterAll(() => process.stdout.write(`[xgboost parity, committed fixtures] max abs error: ${JSON.stringify(seen)}\n`));

function spec(params: Record<string, unknown>, version = '1'): RankerSpec {
  return { id: 'xgb', kind: 'xgboost', version, description: 'test', params };
}
const ctx = { resolvePath: (p: string) => path.resolve(FIXTURES, p), ranker: () => undefined };

function rowsOf(m: DataMatrix, rows: number): FeatureBatch {
  return { features: m.features, rows, values: m.values.subarray(0, rows * m.width) };
}

/** The same rows in another order: row i of the result is row perm[i] of the input. */
function permute(b: FeatureBatch, perm: number[]): FeatureBatch {
  const w = b.features.length;
  const values = new Float64Array(b.values.length);
  perm.forEach((src, dst) => values.set(b.values.subarray(src * w, src * w + w), dst * w));
  return { ...b, values };
}

describe('LambdaMART (rank:ndcg) on lightgbm-lambdarank', () => {
  const exp = expected('rank');
  const model = loadXgboostModelSync(fixture(exp.model));
  const data = parseLibsvmMatrix(readFileSync(fixture(exp.input), 'utf8'), exp.input, { minWidth: model.numFeature });

  test('reads the model', () => {
    expect(model.objective).toBe('rank:ndcg');
    expect(model.numTrees).toBe(50);
    expect(model.numFeature).toBe(301); // LibSVM indices 1..300 are columns 1..300
    expect(model.featureNames).toBeNull();
    expect(model.baseMargin).toBe(0.5); // ranking starts from base_score itself
    expect(Math.max(...model.treeDepth)).toBeLessThanOrEqual(6);
    expect(model.modelVersion).toMatch(/^[0-9a-f]{12}$/);
  });

  test('margins of the first 500 test rows equal xgboost (bit for bit)', () => {
    const margins = predictMargins(model, data.values.subarray(0, exp.rows * data.width), exp.rows);
    seen.rank = maxAbsDiff(margins, exp.margins);
    expect(seen.rank).toBeLessThanOrEqual(1e-5);
    expect(Array.from(margins)).toEqual(exp.margins);
  });

  test('TreeSHAP contributions sum to the margin', () => {
    const rows = 40;
    const c = treeShap(model, data.values.subarray(0, rows * data.width), rows);
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let j = 0; j <= data.width; j++) s += c[r * (data.width + 1) + j]!;
      expect(Math.abs(s - exp.margins[r]!)).toBeLessThan(1e-4);
    }
  });
});

describe('deep binary:logistic classifier with missing values and values on thresholds', () => {
  const exp = expected('classifier');
  const data = parseCsvMatrix(readFileSync(fixture(exp.input), 'utf8'), exp.input);
  let ranker: Ranker;
  let model: XgbModel;
  beforeAll(async () => {
    ranker = await createXgboostRanker(spec({ model: exp.model }), ctx);
    model = loadXgboostModelSync(fixture(exp.model));
  });

  test('the fixture exercises what it claims to', () => {
    expect(model.objective).toBe('binary:logistic');
    expect(Math.max(...model.treeDepth)).toBeGreaterThanOrEqual(8);
    expect(Array.from(data.values).filter(Number.isNaN).length).toBeGreaterThan(data.values.length / 10);
    // Decisions where the value equals the float32 threshold: a float64 compare sends all of these the wrong way.
    expect((exp as unknown as { rowsOnThreshold: number }).rowsOnThreshold).toBeGreaterThan(1000);
  });

  test('the ranker reads the model feature_names (the gateway names) in order', () => {
    expect(ranker.features).toEqual(exp.features);
    expect(data.features).toEqual(exp.features);
  });

  test('base margin is logit(base_score) computed in float32', () => {
    expect(model.baseScore).toBe(Math.fround(0.3));
    expect(model.baseMargin).toBe(probToMargin(Math.fround(0.3)));
    expect(Math.abs(model.baseMargin - Math.log(0.3 / 0.7))).toBeLessThan(1e-6);
  });

  test('margins equal xgboost to 1e-5 (in fact bit for bit)', async () => {
    const margins = await ranker.score(rowsOf(data, exp.rows));
    seen.classifierMargin = maxAbsDiff(margins, exp.margins);
    expect(seen.classifierMargin).toBeLessThanOrEqual(1e-5);
    expect(Array.from(margins)).toEqual(exp.margins);
  });

  test('probabilities equal xgboost to 1e-6', async () => {
    const probs = predictionsFromMargins(model, await ranker.score(rowsOf(data, exp.rows)));
    seen.classifierProbability = maxAbsDiff(probs, exp.predictions!);
    expect(seen.classifierProbability).toBeLessThanOrEqual(1e-6);
  });

  test('TreeSHAP equals xgboost pred_contribs to 1e-4, and each row sums to its margin', async () => {
    const ex = await ranker.explain!(rowsOf(data, exp.rows));
    expect(ex.features).toEqual(ranker.features);
    expect(ex.rows).toBe(exp.rows);
    seen.classifierShap = maxAbsDiff(ex.contributions, exp.contribs!);
    expect(seen.classifierShap).toBeLessThanOrEqual(1e-4);
    const w = ranker.features.length + 1;
    let worst = 0;
    for (let r = 0; r < exp.rows; r++) {
      let s = 0;
      for (let j = 0; j < w; j++) s += ex.contributions[r * w + j]!;
      worst = Math.max(worst, Math.abs(s - exp.margins[r]!));
    }
    seen.classifierShapSum = worst;
    expect(worst).toBeLessThan(1e-4);
  });

  test('rows with missing values are explained along the path they are scored along', async () => {
    // Rows where every feature is missing: all trees follow default directions. Their SHAP values still sum.
    const batch: FeatureBatch = { features: ranker.features, rows: 2, values: new Float64Array(2 * ranker.features.length).fill(NaN) };
    const [m0] = await ranker.score(batch);
    const ex = await ranker.explain!(batch);
    const w = ranker.features.length + 1;
    let s = 0;
    for (let j = 0; j < w; j++) s += ex.contributions[j]!;
    expect(Math.abs(s - m0!)).toBeLessThan(1e-4);
  });

  test('contract: a shuffled batch gives the identically shuffled scores and explanations; the batch is not modified', async () => {
    const batch = rowsOf(data, 100);
    const before = Float64Array.from(batch.values);
    const scores = await ranker.score(batch);
    const ex = await ranker.explain!(batch);
    expect(Array.from(batch.values)).toEqual(Array.from(before));
    const perm = Array.from({ length: 100 }, (_, i) => (i * 37 + 11) % 100); // 37 is coprime with 100
    const shuffled = permute(batch, perm);
    expect(Array.from(await ranker.score(shuffled))).toEqual(perm.map((src) => scores[src]));
    const w = ranker.features.length + 1;
    const exShuffled = await ranker.explain!(shuffled);
    perm.forEach((src, dst) => {
      expect(Array.from(exShuffled.contributions.subarray(dst * w, dst * w + w))).toEqual(Array.from(ex.contributions.subarray(src * w, src * w + w)));
    });
    for (const s of scores) expect(Number.isFinite(s)).toBe(true);
  });

  test('any row count (not a multiple of 4, more than one 2,048-row chunk) scores as one row at a time', async () => {
    const single = Array.from({ length: 7 }, (_, r) => predictMargins(model, data.values.subarray(r * data.width, (r + 1) * data.width), 1)[0]);
    for (let rows = 1; rows <= 7; rows++) expect(Array.from(predictMargins(model, data.values.subarray(0, rows * data.width), rows))).toEqual(single.slice(0, rows));
    // 5,001 rows: the 300 fixture rows repeated, then one more.
    const rows = 5001;
    const values = new Float64Array(rows * data.width);
    for (let r = 0; r < rows; r++) values.set(data.values.subarray((r % exp.rows) * data.width, ((r % exp.rows) + 1) * data.width), r * data.width);
    const margins = predictMargins(model, values, rows);
    for (let r = 0; r < rows; r++) if (margins[r] !== exp.margins[r % exp.rows]) throw new Error(`row ${r}: ${margins[r]} != ${exp.margins[r % exp.rows]}`);
  });

  test('large batches are scored by the worker, small ones in the thread, with the same margins; workers: 0 keeps them in the thread', async () => {
    const rows = 5001;
    const values = new Float64Array(rows * data.width);
    for (let r = 0; r < rows; r++) values.set(data.values.subarray((r % exp.rows) * data.width, ((r % exp.rows) + 1) * data.width), r * data.width);
    const batch: FeatureBatch = { features: data.features, rows, values };
    const inThread = await createXgboostRanker(spec({ model: exp.model, workers: 0 }), ctx);
    const big = ranker.score(batch);
    expect(big).toBeInstanceOf(Promise); // >= MIN_WORKER_ROWS: off the event loop
    expect(inThread.score(batch)).not.toBeInstanceOf(Promise);
    expect(ranker.score(rowsOf(data, 10))).not.toBeInstanceOf(Promise);
    const margins = await big;
    for (let r = 0; r < rows; r++) if (margins[r] !== exp.margins[r % exp.rows]) throw new Error(`row ${r}: ${margins[r]} != ${exp.margins[r % exp.rows]}`);
    // Several at once share the worker and each gets its own rows' margins.
    const sizes = [256, 300, 1000, 777];
    const all = await Promise.all(sizes.map((n) => ranker.score({ features: data.features, rows: n, values: values.subarray(0, n * data.width) })));
    all.forEach((m, i) => expect(Array.from(m)).toEqual(Array.from(margins.subarray(0, sizes[i]))));
    expect(Array.from(batch.values)).toEqual(Array.from(values));
  });

  test('an empty batch scores to an empty array', async () => {
    expect(await ranker.score({ features: ranker.features, rows: 0, values: new Float64Array(0) })).toHaveLength(0);
  });

  test('a batch whose columns are not the ranker features is refused', async () => {
    const wrong = [...ranker.features].reverse();
    await expect(async () => ranker.score({ features: wrong, rows: 1, values: new Float64Array(wrong.length) })).rejects.toThrow(/expected a batch/);
  });
});

describe('reg:squarederror without feature_names (columns by position)', () => {
  const exp = expected('regression');
  const data = parseCsvMatrix(readFileSync(fixture(exp.input), 'utf8'), exp.input);
  const names = data.features.map((_, i) => `x${i}`);

  test('margins and SHAP equal xgboost', async () => {
    const ranker = await createXgboostRanker(spec({ model: exp.model, features: names }), ctx);
    expect(ranker.features).toEqual(names);
    const scores = await ranker.score(rowsOf(data, exp.rows));
    seen.regressionMargin = maxAbsDiff(scores, exp.margins);
    expect(seen.regressionMargin).toBeLessThanOrEqual(1e-5);
    expect(Array.from(scores)).toEqual(exp.margins);
    // reg:squarederror has no transform: predictions are the margins.
    expect(Array.from(predictionsFromMargins(loadXgboostModelSync(fixture(exp.model)), scores))).toEqual(exp.predictions);
    const ex = await ranker.explain!(rowsOf(data, exp.rows));
    seen.regressionShap = maxAbsDiff(ex.contributions, exp.contribs!);
    expect(seen.regressionShap).toBeLessThanOrEqual(1e-4);
  });

  test('params.features is required and must have num_feature names', async () => {
    await expect(async () => createXgboostRanker(spec({ model: exp.model }), ctx)).rejects.toThrow(/no feature_names, so params.features must list its 12 columns/);
    await expect(async () => createXgboostRanker(spec({ model: exp.model, features: names.slice(1) }), ctx)).rejects.toThrow(/lists 11 features but the model has 12 columns/);
  });
});

describe('xgboost ranker configuration', () => {
  test('params.features must match a model that has feature_names', async () => {
    const exp = expected('classifier');
    const names = exp.features!;
    await expect(createXgboostRanker(spec({ model: exp.model, features: names }), ctx)).resolves.toBeDefined();
    const swapped = [names[1]!, names[0]!, ...names.slice(2)];
    await expect(async () => createXgboostRanker(spec({ model: exp.model, features: swapped }), ctx)).rejects.toThrow(/differ from the model's feature_names/);
  });

  test('version is the configured one, else the model file hash', async () => {
    const model = loadXgboostModelSync(fixture('classifier.json'));
    expect((await createXgboostRanker(spec({ model: 'classifier.json' }, 'v7'), ctx)).version).toBe('v7');
    expect((await createXgboostRanker(spec({ model: 'classifier.json' }, ''), ctx)).version).toBe(model.modelVersion);
  });

  test('bad params and unreadable models fail with the ranker id', async () => {
    await expect(async () => createXgboostRanker(spec({}), ctx)).rejects.toThrow(/ranker "xgb": model/);
    await expect(async () => createXgboostRanker(spec({ model: 'nope.json' }), ctx)).rejects.toThrow(/ranker "xgb": xgboost model .*nope\.json: cannot read/);
  });

  test('the model feature names a gateway model uses are all in the feature registry', async () => {
    const { featureDefinition } = await import('../../src/features/registry');
    const ranker = await createXgboostRanker(spec({ model: 'classifier.json' }), ctx);
    for (const f of ranker.features) expect(featureDefinition(f)).toBeDefined();
  });
});

describe('float32 semantics', () => {
  /** A one-split model: x0 < threshold goes to leaf -1, else leaf +1; missing goes `dl ? left : right`. */
  function stump(threshold: number, dl: 0 | 1, extra: Record<string, unknown> = {}): string {
    return JSON.stringify({
      version: [1, 7, 4],
      learner: {
        attributes: {},
        feature_names: [],
        feature_types: [],
        gradient_booster: {
          name: 'gbtree',
          model: {
            gbtree_model_param: { num_parallel_tree: '1', num_trees: '1', size_leaf_vector: '0' },
            tree_info: [0],
            trees: [
              {
                base_weights: [0, -1, 1],
                categories: [],
                categories_nodes: [],
                categories_segments: [],
                categories_sizes: [],
                default_left: [dl, 0, 0],
                id: 0,
                left_children: [1, -1, -1],
                loss_changes: [1, 0, 0],
                parents: [2147483647, 0, 0],
                right_children: [2, -1, -1],
                split_conditions: [threshold, -1, 1],
                split_indices: [0, 0, 0],
                split_type: [0, 0, 0],
                sum_hessian: [4, 1, 3],
                tree_param: { num_deleted: '0', num_feature: '2', num_nodes: '3', size_leaf_vector: '0' },
                ...extra,
              },
            ],
          },
        },
        learner_model_param: { base_score: '0E0', boost_from_average: '1', num_class: '0', num_feature: '2', num_target: '1' },
        objective: { name: 'reg:squarederror', reg_loss_param: { scale_pos_weight: '1' } },
      },
    });
  }
  const score = (m: XgbModel, x: number) => predictMargins(m, Float64Array.of(x, 0), 1)[0];

  test('a value equal to the float32 threshold goes right, even when its float64 is below it', () => {
    // 0.94 as float32 is 0.9399999976158142; the float64 0.94 is above it, 0.93999999 below it: both round onto it.
    const m = parseXgboostModel(stump(0.94, 0), 'stump.json');
    expect(score(m, 0.94)).toBe(1);
    expect(score(m, 0.93999999)).toBe(1);
    expect(0.93999999 < m.threshold[0]!).toBe(true); // what a float64 compare would get wrong
    expect(score(m, 0.9399999)).toBe(-1);
  });

  test('NaN follows default_left', () => {
    expect(score(parseXgboostModel(stump(0.5, 1), 's.json'), NaN)).toBe(-1);
    expect(score(parseXgboostModel(stump(0.5, 0), 's.json'), NaN)).toBe(1);
  });

  test('infinite values compare as numbers and NaN still follows default_left, at the extreme float32 thresholds too', () => {
    // xgboost: go left when x < threshold; a missing value goes where default_left says.
    const FLT_MAX = 3.4028234663852886e38;
    for (const threshold of [0.5, -FLT_MAX, FLT_MAX, 0]) {
      for (const dl of [0, 1] as const) {
        const m = parseXgboostModel(stump(threshold, dl), 's.json');
        const t = m.threshold[0]!;
        for (const x of [Infinity, -Infinity, NaN, 0, -0, 1e39, -1e39, FLT_MAX, -FLT_MAX]) {
          const fx = Math.fround(x);
          const want = Number.isNaN(fx) ? (dl ? -1 : 1) : fx < t ? -1 : 1;
          expect([threshold, dl, x, score(m, x)]).toEqual([threshold, dl, x, want]);
        }
      }
    }
  });

  test('TreeSHAP of a stump: the known closed form', () => {
    const m = parseXgboostModel(stump(0.5, 0), 's.json');
    // Expected value (1 * -1 + 3 * 1) / 4 = 0.5; a row going left gets -1 - 0.5 on feature 0.
    const c = treeShap(m, Float64Array.of(0.1, 7, 0.9, 7), 2);
    expect(Array.from(c)).toEqual([-1.5, 0, 0.5, 0.5, 0, 0.5]);
  });

  test('sigmoid in float32', () => {
    expect(sigmoid32(0)).toBe(0.5);
    expect(sigmoid32(20)).toBe(1); // saturates: why the ranker scores margins
    expect(sigmoid32(-1)).toBe(Math.fround(1 / (1 + Math.fround(Math.exp(1)))));
  });

  test('a tree whose right child is not left + 1 is renumbered and scores the same', () => {
    const json = JSON.parse(stump(0.5, 0)) as { learner: { gradient_booster: { model: { trees: Record<string, unknown>[] } } } };
    const t = json.learner.gradient_booster.model.trees[0]!;
    // Same tree, children stored in the other order.
    Object.assign(t, { left_children: [2, -1, -1], right_children: [1, -1, -1], split_conditions: [0.5, 1, -1], sum_hessian: [4, 3, 1], base_weights: [0, 1, -1] });
    const m = parseXgboostModel(JSON.stringify(json), 's.json');
    expect(score(m, 0.1)).toBe(-1);
    expect(score(m, 0.9)).toBe(1);
    expect(m.right[0]).toBe(m.left[0]! + 1);
  });
});

describe('bad models are refused with clear messages naming the file', () => {
  const text = readFileSync(fixture('regression.json'), 'utf8');
  type Doc = { learner: Record<string, any> };
  const mutate = (fn: (doc: Doc) => void): string => {
    const doc = JSON.parse(text) as Doc;
    fn(doc);
    return JSON.stringify(doc);
  };
  const refuse = (t: string, message: RegExp) => expect(() => parseXgboostModel(t, 'bad-model.json')).toThrow(message);
  const tree0 = (d: Doc) => d.learner.gradient_booster.model.trees[0];

  test('truncated JSON', () => {
    refuse(text.slice(0, text.length / 2), /xgboost model bad-model\.json: invalid JSON \(truncated or corrupted file\?\)/);
  });

  test('not a JSON model at all', () => {
    refuse('binf\u0000\u0000', /bad-model\.json: not a JSON model/);
    refuse('{"a": 1}', /bad-model\.json: not an XGBoost JSON model/);
  });

  test('wrong array lengths', () => {
    refuse(mutate((d) => tree0(d).split_conditions.pop()), /bad-model\.json: tree 0: split_conditions has \d+ entries, expected \d+ \(num_nodes\)/);
    refuse(mutate((d) => tree0(d).left_children.push(-1)), /bad-model\.json: tree 0: tree_param.num_nodes is \d+ but left_children has \d+ entries/);
    refuse(mutate((d) => delete tree0(d).sum_hessian), /tree 0: sum_hessian is missing/);
  });

  test('dart and gblinear boosters', () => {
    refuse(mutate((d) => (d.learner.gradient_booster.name = 'dart')), /bad-model\.json: dart boosters are not supported/);
    refuse(mutate((d) => (d.learner.gradient_booster = { name: 'gblinear', model: {} })), /bad-model\.json: gblinear boosters are not supported/);
  });

  test('a child index out of range', () => {
    refuse(mutate((d) => (tree0(d).left_children[0] = 100000)), /bad-model\.json: tree 0: left_children\[0\] = 100000 is not -1 or a node index in \[1, \d+\)/);
  });

  test('a cycle or a shared child', () => {
    refuse(
      mutate((d) => {
        const t = tree0(d);
        const inner = (t.left_children as number[]).findIndex((l, i) => i > 0 && l !== -1);
        t.left_children[inner] = 1; // points back up the tree
      }),
      /bad-model\.json: tree 0: node 1 is reached twice/,
    );
  });

  test('a split on a feature outside num_feature', () => {
    refuse(mutate((d) => (tree0(d).split_indices[0] = 12)), /tree 0: node 0 splits on feature 12, outside \[0, 12\)/);
  });

  test('multiclass, unknown objective, categorical splits', () => {
    refuse(mutate((d) => (d.learner.learner_model_param.num_class = '3')), /multiclass models \(num_class=3\) are not supported/);
    refuse(mutate((d) => (d.learner.objective.name = 'multi:softprob')), /objective "multi:softprob" is not supported/);
    refuse(mutate((d) => (tree0(d).split_type[0] = 1)), /categorical splits; not supported/);
  });

  test('a non-numeric base_score', () => {
    refuse(mutate((d) => (d.learner.learner_model_param.base_score = 'abc')), /learner_model_param.base_score is not a number/);
  });
});
