/**
 * Reads XGBoost 1.7 JSON models (`booster.save_model('m.json')`) into flat typed arrays.
 *
 * Only what the gateway can score exactly is accepted: a `gbtree` booster with one output (regression, binary
 * classification or ranking) and numeric splits. Anything else (dart, gblinear, multiclass, multi-target, categorical
 * splits, an objective we do not know the output transform of) is refused with a message naming the file, because a
 * model that loads but scores differently from xgboost is worse than one that does not load.
 *
 * Layout: all trees share one set of node arrays. Each tree's reachable nodes are renumbered breadth first into
 * `[treeOffset[t], treeOffset[t + 1])`, children stored as global indices, and a node's right child is always its left
 * child + 1 (xgboost's own predictor makes the same assumption; renumbering guarantees it for any valid file and drops
 * nodes pruning left unreachable).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

/** Objectives whose output transform we implement (margin -> prediction). */
export const SUPPORTED_OBJECTIVES = [
  'reg:squarederror',
  'reg:logistic',
  'binary:logistic',
  'binary:logitraw',
  'rank:pairwise',
  'rank:ndcg',
  'rank:map',
] as const;
export type XgbObjective = (typeof SUPPORTED_OBJECTIVES)[number];

export interface XgbModel {
  /** The file it was read from (for messages). */
  readonly file: string;
  /** Short sha256 of the file bytes: changes whenever the model could score differently. */
  readonly modelVersion: string;
  /** xgboost version that wrote the file, e.g. [1, 7, 4]. */
  readonly xgboostVersion: readonly number[];
  readonly objective: XgbObjective;
  /** `base_score` as stored (a probability for logistic objectives), rounded to float32 as xgboost holds it. */
  readonly baseScore: number;
  /** Where every row's margin starts (float32): base_score, or its logit for logistic objectives. */
  readonly baseMargin: number;
  readonly numFeature: number;
  /** The model's column names when it was trained with them; otherwise columns are by position. */
  readonly featureNames: readonly string[] | null;
  readonly numTrees: number;
  /** Node range of tree t: `[treeOffset[t], treeOffset[t + 1])`; the root is `treeOffset[t]`. */
  readonly treeOffset: Int32Array;
  /** Max depth of each tree (a lone leaf has depth 0). */
  readonly treeDepth: Int32Array;
  /** Global index of the left child; -1 for a leaf. */
  readonly left: Int32Array;
  /** Global index of the right child (always left + 1); -1 for a leaf. */
  readonly right: Int32Array;
  /** Column tested by the split; -1 for a leaf (loops use this as the leaf test). */
  readonly splitIndex: Int32Array;
  /** Split thresholds as float32: xgboost compares `float32(x) < threshold` in float32. */
  readonly threshold: Float32Array;
  /** 1 when a missing value (NaN) goes left. */
  readonly defaultLeft: Uint8Array;
  /** Global index of the child a missing value goes to; -1 for a leaf. */
  readonly defaultChild: Int32Array;
  /** Leaf values (learning rate already applied); 0 for internal nodes. */
  readonly leafValue: Float32Array;
  /** `sum_hessian` of each node: the training cover TreeSHAP weighs branches by. */
  readonly cover: Float32Array;
}

/** A model file that cannot be used; the message names the file and what is wrong. */
export class XgbModelError extends Error {
  override readonly name = 'XgbModelError';
}

/** Short content hash used as a model version. */
export function modelHash(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 12);
}

export function loadXgboostModelSync(file: string): XgbModel {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new XgbModelError(`xgboost model ${file}: cannot read: ${(err as Error).message}`);
  }
  return parseXgboostModel(bytes, file);
}

export async function loadXgboostModel(file: string): Promise<XgbModel> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new XgbModelError(`xgboost model ${file}: cannot read: ${(err as Error).message}`);
  }
  return parseXgboostModel(bytes, file);
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses the bytes of a JSON model; `file` is only used in messages. */
export function parseXgboostModel(bytes: Uint8Array | string, file: string): XgbModel {
  const fail = (msg: string): never => {
    throw new XgbModelError(`xgboost model ${file}: ${msg}`);
  };
  const text = typeof bytes === 'string' ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  if (text.trimStart()[0] !== '{') {
    fail('not a JSON model (expected a file written by save_model("....json"); binary and UBJSON models are not supported)');
  }
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch (err) {
    fail(`invalid JSON (truncated or corrupted file?): ${(err as Error).message}`);
  }
  if (!isObject(root) || !isObject(root.learner)) fail('not an XGBoost JSON model: no "learner" object');
  const doc = root as Json;
  const learner = doc.learner as Json;

  const version = Array.isArray(doc.version) && doc.version.every((v) => Number.isInteger(v)) ? (doc.version as number[]) : [];
  if (version.length > 0 && (version[0]! < 1 || version[0]! > 2)) {
    fail(`written by xgboost ${version.join('.')}; only the 1.x JSON format (and compatible 2.x gbtree models) is supported`);
  }

  // --- booster kind
  const booster = learner.gradient_booster;
  if (!isObject(booster)) fail('learner.gradient_booster is missing');
  const boosterName = (booster as Json).name;
  if (boosterName === 'dart') {
    fail('dart boosters are not supported (their trees carry weights and dropout); retrain with booster="gbtree"');
  }
  if (boosterName === 'gblinear') fail('gblinear boosters are not supported; only tree models (booster="gbtree")');
  if (boosterName !== 'gbtree') fail(`unsupported booster "${String(boosterName)}"; only "gbtree"`);
  const gbModel = (booster as Json).model;
  if (!isObject(gbModel)) fail('learner.gradient_booster.model is missing');

  // --- learner parameters (stored as strings such as "5E-1")
  const mp = learner.learner_model_param;
  if (!isObject(mp)) fail('learner.learner_model_param is missing');
  const param = (name: string, required: boolean): number | undefined => {
    const raw = (mp as Json)[name];
    if (raw === undefined) return required ? fail(`learner_model_param.${name} is missing`) : undefined;
    // xgboost 2.x writes vector parameters as "[5E-1]"; a single value is the same thing.
    const s = typeof raw === 'string' ? raw.replace(/^\[(.*)\]$/, '$1') : raw;
    const n = typeof s === 'number' ? s : typeof s === 'string' && s.trim() !== '' ? Number(s) : NaN;
    if (!Number.isFinite(n)) fail(`learner_model_param.${name} is not a number: ${JSON.stringify(raw)}`);
    return n;
  };
  const numClass = param('num_class', false) ?? 0;
  if (numClass > 1) fail(`multiclass models (num_class=${numClass}) are not supported; one output per row is`);
  const numTarget = param('num_target', false) ?? 1;
  if (numTarget > 1) fail(`multi-target models (num_target=${numTarget}) are not supported`);
  const numFeature = param('num_feature', true)!;
  if (!Number.isInteger(numFeature) || numFeature < 1) fail(`num_feature must be a positive integer, got ${numFeature}`);
  // xgboost keeps base_score as a float32.
  const baseScore = Math.fround(param('base_score', true)!);

  // --- objective
  const objectiveName = isObject(learner.objective) ? (learner.objective as Json).name : undefined;
  if (typeof objectiveName !== 'string') fail('learner.objective.name is missing');
  if (!(SUPPORTED_OBJECTIVES as readonly string[]).includes(objectiveName as string)) {
    fail(`objective "${String(objectiveName)}" is not supported (supported: ${SUPPORTED_OBJECTIVES.join(', ')})`);
  }
  const objective = objectiveName as XgbObjective;
  const logistic = objective === 'binary:logistic' || objective === 'reg:logistic' || objective === 'binary:logitraw';
  if (logistic && !(baseScore > 0 && baseScore < 1)) fail(`base_score must be in (0, 1) for ${objective}, got ${baseScore}`);
  const baseMargin = logistic ? probToMargin(baseScore) : baseScore;

  // --- feature names and types
  let featureNames: string[] | null = null;
  const names = learner.feature_names;
  if (names !== undefined && !(Array.isArray(names) && names.length === 0)) {
    if (!Array.isArray(names) || !names.every((n) => typeof n === 'string' && n.length > 0)) fail('feature_names must be an array of non-empty strings');
    const list = names as string[];
    if (list.length !== numFeature) fail(`feature_names has ${list.length} names but num_feature is ${numFeature}`);
    const seen = new Set<string>();
    for (const n of list) {
      if (seen.has(n)) fail(`feature_names lists "${n}" twice`);
      seen.add(n);
    }
    featureNames = list;
  }
  const types = learner.feature_types;
  if (Array.isArray(types) && types.length > 0) {
    if (types.length !== numFeature) fail(`feature_types has ${types.length} entries but num_feature is ${numFeature}`);
    const cat = types.findIndex((t) => t === 'c');
    if (cat >= 0) fail(`feature ${featureNames?.[cat] ?? cat} is categorical; categorical splits are not supported`);
  }

  // --- trees
  const trees = (gbModel as Json).trees;
  if (!Array.isArray(trees)) fail('gradient_booster.model.trees is missing');
  const treeList = trees as unknown[];
  const gbParam = (gbModel as Json).gbtree_model_param;
  if (isObject(gbParam) && gbParam.num_trees !== undefined && Number(gbParam.num_trees) !== treeList.length) {
    fail(`gbtree_model_param.num_trees is ${String(gbParam.num_trees)} but ${treeList.length} trees are stored`);
  }
  const treeInfo = (gbModel as Json).tree_info;
  if (treeInfo !== undefined) {
    if (!Array.isArray(treeInfo) || treeInfo.length !== treeList.length) fail(`tree_info has ${Array.isArray(treeInfo) ? treeInfo.length : 'no'} entries for ${treeList.length} trees`);
    if ((treeInfo as unknown[]).some((g) => g !== 0)) fail('trees belong to more than one output group (multiclass); not supported');
  }

  const parsed = treeList.map((t, i) => readTree(t, i, numFeature, fail));
  const total = parsed.reduce((s, t) => s + t.order.length, 0);
  const treeOffset = new Int32Array(parsed.length + 1);
  const treeDepth = new Int32Array(parsed.length);
  const left = new Int32Array(total);
  const right = new Int32Array(total);
  const splitIndex = new Int32Array(total);
  const threshold = new Float32Array(total);
  const defaultLeft = new Uint8Array(total);
  const defaultChild = new Int32Array(total);
  const leafValue = new Float32Array(total);
  const cover = new Float32Array(total);
  let base = 0;
  parsed.forEach((t, ti) => {
    treeOffset[ti] = base;
    treeDepth[ti] = t.depth;
    t.order.forEach((orig, k) => {
      const g = base + k;
      const l = t.src.left[orig]!;
      cover[g] = t.src.hess[orig]!;
      if (l === -1) {
        left[g] = right[g] = splitIndex[g] = defaultChild[g] = -1;
        leafValue[g] = t.src.cond[orig]!;
      } else {
        const nl = base + t.newIndex[l]!;
        left[g] = nl;
        right[g] = nl + 1;
        splitIndex[g] = t.src.split[orig]!;
        threshold[g] = t.src.cond[orig]!;
        defaultLeft[g] = t.src.dleft[orig]!;
        defaultChild[g] = t.src.dleft[orig] ? nl : nl + 1;
      }
    });
    base += t.order.length;
  });
  treeOffset[parsed.length] = base;

  return {
    file,
    modelVersion: modelHash(bytes),
    xgboostVersion: version,
    objective,
    baseScore,
    baseMargin,
    numFeature,
    featureNames,
    numTrees: parsed.length,
    treeOffset,
    treeDepth,
    left,
    right,
    splitIndex,
    threshold,
    defaultLeft,
    defaultChild,
    leafValue,
    cover,
  };
}

/**
 * xgboost's `ProbToMargin` for logistic objectives, `-logf(1.0f / base_score - 1.0f)`, every step in float32.
 * Doing it in float64 and rounding once can differ from xgboost in the last bit of every margin.
 */
export function probToMargin(p: number): number {
  const inv = Math.fround(Math.fround(1 / Math.fround(p)) - 1);
  return Math.fround(-Math.fround(Math.log(inv)));
}

interface RawTree {
  left: Int32Array;
  right: Int32Array;
  split: Int32Array;
  cond: Float32Array;
  dleft: Uint8Array;
  hess: Float32Array;
}

/** Validates one tree and orders its reachable nodes breadth first with siblings adjacent. */
function readTree(
  t: unknown,
  ti: number,
  numFeature: number,
  fail: (msg: string) => never,
): { src: RawTree; order: number[]; newIndex: Int32Array; depth: number } {
  const where = `tree ${ti}`;
  if (!isObject(t)) fail(`${where} is not an object`);
  const tree = t as Json;
  const tp = tree.tree_param;
  const declared = isObject(tp) ? Number(tp.num_nodes) : NaN;
  const lc = tree.left_children;
  if (!Array.isArray(lc)) fail(`${where}: left_children is missing`);
  const n = (lc as unknown[]).length;
  if (n === 0) fail(`${where} has no nodes`);
  if (Number.isFinite(declared) && declared !== n) fail(`${where}: tree_param.num_nodes is ${declared} but left_children has ${n} entries`);

  const ints = (key: string, out: Int32Array | Uint8Array, check: (v: number) => boolean, what: string): void => {
    const a = tree[key];
    if (!Array.isArray(a)) fail(`${where}: ${key} is missing`);
    // Older writers stored default_left as booleans.
    const arr = (a as unknown[]).map((v) => (typeof v === 'boolean' ? Number(v) : v));
    if (arr.length !== n) fail(`${where}: ${key} has ${arr.length} entries, expected ${n} (num_nodes)`);
    for (let i = 0; i < n; i++) {
      const v = arr[i];
      if (typeof v !== 'number' || !Number.isInteger(v) || !check(v)) fail(`${where}: ${key}[${i}] = ${JSON.stringify(v)} is not ${what}`);
      out[i] = v as number;
    }
  };
  const floats = (key: string, out: Float32Array): void => {
    const a = tree[key];
    if (!Array.isArray(a)) fail(`${where}: ${key} is missing`);
    const arr = a as unknown[];
    if (arr.length !== n) fail(`${where}: ${key} has ${arr.length} entries, expected ${n} (num_nodes)`);
    for (let i = 0; i < n; i++) {
      const v = arr[i];
      if (typeof v !== 'number' || !Number.isFinite(v)) fail(`${where}: ${key}[${i}] = ${JSON.stringify(v)} is not a finite number`);
      out[i] = v as number;
    }
  };
  const child = (v: number) => v === -1 || (v >= 1 && v < n);
  const src: RawTree = {
    left: new Int32Array(n),
    right: new Int32Array(n),
    split: new Int32Array(n),
    cond: new Float32Array(n),
    dleft: new Uint8Array(n),
    hess: new Float32Array(n),
  };
  ints('left_children', src.left, child, `-1 or a node index in [1, ${n})`);
  ints('right_children', src.right, child, `-1 or a node index in [1, ${n})`);
  // Deleted (pruned) nodes may hold any split index; only reachable splits are checked below.
  ints('split_indices', src.split, () => true, 'an integer');
  ints('default_left', src.dleft, (v) => v === 0 || v === 1, '0 or 1');
  floats('split_conditions', src.cond);
  floats('sum_hessian', src.hess);
  const st = tree.split_type;
  if (st !== undefined) {
    if (!Array.isArray(st) || st.length !== n) fail(`${where}: split_type has ${Array.isArray(st) ? st.length : 'no'} entries, expected ${n}`);
    if ((st as unknown[]).some((v) => v !== 0)) fail(`${where}: has categorical splits; not supported`);
  }
  const cats = tree.categories_nodes;
  if (Array.isArray(cats) && cats.length > 0) fail(`${where}: has categorical splits; not supported`);

  // Walk from the root breadth first; a node reached twice means a cycle or shared subtree.
  const newIndex = new Int32Array(n).fill(-1);
  const depthOf = new Int32Array(n);
  const order: number[] = [0];
  newIndex[0] = 0;
  let depth = 0;
  for (let q = 0; q < order.length; q++) {
    const node = order[q]!;
    const l = src.left[node]!;
    const r = src.right[node]!;
    if ((l === -1) !== (r === -1)) fail(`${where}: node ${node} has only one child (left ${l}, right ${r})`);
    if (l === -1) continue;
    if (l === r) fail(`${where}: node ${node} has the same left and right child ${l}`);
    const f = src.split[node]!;
    if (f < 0 || f >= numFeature) fail(`${where}: node ${node} splits on feature ${f}, outside [0, ${numFeature}) (num_feature)`);
    for (const c of [l, r]) {
      if (newIndex[c] !== -1) fail(`${where}: node ${c} is reached twice (cycle or shared child at node ${node})`);
      newIndex[c] = order.length;
      order.push(c);
      depthOf[c] = depthOf[node]! + 1;
      if (depthOf[c]! > depth) depth = depthOf[c]!;
    }
  }
  return { src, order, newIndex, depth };
}
