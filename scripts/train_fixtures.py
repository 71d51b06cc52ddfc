#!/usr/bin/python3
"""Trains the XGBoost models the gateway's xgboost ranker is tested against, and xgboost's own outputs for them.

Run with Debian's python (it has xgboost 1.7.4, numpy):

    /usr/bin/python3 scripts/train_fixtures.py                      # the committed fixtures (seed 20240611)
    /usr/bin/python3 scripts/train_fixtures.py --out DIR --seed N   # fresh models for a parity test
    /usr/bin/python3 scripts/train_fixtures.py --only bench         # test/fixtures/xgboost/bench-300x6.json

Everything is deterministic for a given --seed (numpy's default_rng(seed) for data, xgboost's seed=seed, one thread).
Writes into --out (default test/fixtures/xgboost/), one `NAME.json` model (booster.save_model) and one
`NAME.expected.json` per model:

  rank          rank:ndcg LambdaMART, 50 trees depth 6, on the lightgbm-lambdarank train split (--data). Expected
                margins of the first 500 rows of the test split, and xgboost's ndcg@10 on the whole test split.
                The test split and its groups are copied beside it (lambdarank.test.libsvm, lambdarank.test.query,
                with its SOURCE.md as lambdarank.SOURCE.md: MIT, from microsoft/LightGBM) so the tests do not need --data. Also rank-ties: one tree of depth 2 (at most 4 distinct scores),
                whose ndcg@10 depends on how the metric orders tied documents. Skipped, with a note on stderr, when --data does not exist.
  sparse-rank   rank:pairwise on synthetic sparse LibSVM rows (1-based indices, many absent: absent = missing), with
                query groups; the data files are written beside it. Expected margins and ndcg@10 of the test file,
                and sparse-rank-ties as for rank.
  classifier    binary:logistic, depth 9, tree_method=hist, base_score 0.3, feature_names = the gateway's feature
                names, on synthetic data with ~30% missing values (NaN) and 2-decimal values: hist thresholds are
                data values, so many rows sit exactly on a threshold. Rows as CSV with a header (NaN = missing);
                expected margins, probabilities and pred_contribs.
  regression    reg:squarederror, no feature_names (columns by position), with missing values. Rows as CSV.
  bench         (only with --only bench) 300 trees depth 6 over 40 features; no expected outputs.

All expected numbers are the float64 values of xgboost's float32 outputs, printed with repr (full precision).
"""
import argparse
import json
import os
import shutil
import sys

import numpy as np
import xgboost as xgb

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DEFAULT_OUT = os.path.join(REPO, 'test', 'fixtures', 'xgboost')
DEFAULT_DATA = os.path.join(os.path.dirname(REPO), 'shared', 'data', 'lightgbm-lambdarank')
DEFAULT_SEED = 20240611

# The gateway's feature registry (src/features/registry.ts): a gateway model's feature_names are these.
GATEWAY_FEATURES = ['hot', 'created_utc', 'post_score', 'num_comments', 'upvote_ratio', 'community_subscribers',
                    'viewer_affinity', 'context_title_similarity', 'is_self', 'over_18']


def floats(a):
    """float32 outputs as exact float64 values (json writes repr: shortest round trip)."""
    return [float(v) for v in np.asarray(a, dtype=np.float32).ravel()]


def write_json(path, obj):
    with open(path, 'w') as f:
        json.dump(obj, f, separators=(',', ':'))
        f.write('\n')


def write_csv(path, names, X):
    with open(path, 'w') as f:
        f.write(','.join(names) + '\n')
        for row in X:
            f.write(','.join('NaN' if np.isnan(v) else repr(float(v)) for v in row) + '\n')


def ndcg_at_10(booster, dmatrix):
    """xgboost's own ndcg@10 (the learner's metric, printed with 17 significant digits)."""
    booster.set_param({'eval_metric': 'ndcg@10'})
    text = booster.eval_set([(dmatrix, 'test')])
    return float(text.split('test-ndcg@10:')[1].split()[0])


def params(seed, **kw):
    p = {'seed': seed, 'nthread': 1}
    p.update(kw)
    return p


def train_rank(out, seed, data_dir, fresh):
    train, test = os.path.join(data_dir, 'rank.train'), os.path.join(data_dir, 'rank.test')
    if not os.path.exists(train):
        print(f'train_fixtures: {data_dir} not found: skipping the lambdarank model', file=sys.stderr)
        return
    dtrain = xgb.DMatrix(train + '?format=libsvm')
    dtrain.set_group(np.loadtxt(train + '.query', dtype=np.int64))
    dtest = xgb.DMatrix(test + '?format=libsvm')
    dtest.set_group(np.loadtxt(test + '.query', dtype=np.int64))
    # Fresh models sample rows and columns with the seed so each seed gives different trees.
    extra = {'subsample': 0.8, 'colsample_bytree': 0.8} if fresh else {}
    bst = xgb.train(params(seed, objective='rank:ndcg', max_depth=6, eta=0.1, tree_method='hist', **extra), dtrain, 50)
    bst.save_model(os.path.join(out, 'rank.json'))
    shutil.copyfile(test, os.path.join(out, 'lambdarank.test.libsvm'))
    shutil.copyfile(test + '.query', os.path.join(out, 'lambdarank.test.query'))
    if os.path.exists(os.path.join(data_dir, 'SOURCE.md')):  # provenance and licence (MIT) travel with the copy
        shutil.copyfile(os.path.join(data_dir, 'SOURCE.md'), os.path.join(out, 'lambdarank.SOURCE.md'))
    margins = bst.predict(dtest, output_margin=True)
    write_json(os.path.join(out, 'rank.expected.json'), {
        'model': 'rank.json', 'objective': 'rank:ndcg', 'input': 'lambdarank.test.libsvm', 'format': 'libsvm',
        'group': 'lambdarank.test.query', 'rows': 500, 'margins': floats(margins[:500]),
        'ndcg10': ndcg_at_10(bst, dtest),
    })
    train_ties(out, seed, 'rank', dtrain, dtest, 'lambdarank.test.libsvm', 'lambdarank.test.query')


def train_ties(out, seed, name, dtrain, dtest, input_file, group_file):
    """A one-tree depth-2 model: at most 4 distinct scores, so most documents tie and the metric's tie order shows."""
    bst = xgb.train(params(seed, objective='rank:pairwise', max_depth=2, eta=0.1, tree_method='hist'), dtrain, 1)
    bst.save_model(os.path.join(out, f'{name}-ties.json'))
    margins = bst.predict(dtest, output_margin=True)
    write_json(os.path.join(out, f'{name}-ties.expected.json'), {
        'model': f'{name}-ties.json', 'objective': 'rank:pairwise', 'input': input_file, 'format': 'libsvm',
        'group': group_file, 'rows': int(dtest.num_row()), 'distinctPredictions': len(set(margins.tolist())),
        'margins': floats(margins), 'ndcg10': ndcg_at_10(bst, dtest),
    })


def sparse_libsvm(path, X, y, qid=None):
    """1-based indices as written; absent entries are missing values."""
    with open(path, 'w') as f:
        for i, row in enumerate(X):
            cells = [f'{j + 1}:{row[j]!r}' for j in range(len(row)) if not np.isnan(row[j])]
            q = [f'qid:{qid[i]}'] if qid is not None else []
            f.write(' '.join([str(int(y[i]))] + q + cells) + '\n')


def train_sparse_rank(out, seed):
    rng = np.random.default_rng(seed + 1)
    nfeat, ngroups = 40, 160
    sizes = rng.integers(3, 25, size=ngroups)
    n = int(sizes.sum())
    X = np.round(rng.random((n, nfeat)), 2)
    X[rng.random(X.shape) < 0.6] = np.nan  # sparse: most entries absent
    w = rng.normal(size=nfeat)
    score = np.nan_to_num(X, nan=0.3) @ w + rng.normal(size=n) * 0.5
    # Graded relevance 0-4 within each group, by score quantile, with some groups holding no relevant document.
    y = np.zeros(n)
    start = 0
    for g, s in enumerate(sizes):
        sl = slice(start, start + s)
        if g % 7 != 3:
            ranks = np.argsort(np.argsort(score[sl]))
            y[sl] = np.minimum(4, (ranks * 5) // s)
        start += s
    # The last column stays absent everywhere: the files then have fewer columns than the model.
    X[:, -1] = np.nan
    split = int(ngroups * 0.75)
    ntrain = int(sizes[:split].sum())
    qid = np.repeat(np.arange(ngroups), sizes)
    for name, sl, gs in (('train', slice(0, ntrain), sizes[:split]), ('test', slice(ntrain, n), sizes[split:])):
        sparse_libsvm(os.path.join(out, f'sparse-rank.{name}.libsvm'), X[sl], y[sl], qid[sl])
        np.savetxt(os.path.join(out, f'sparse-rank.{name}.query'), gs, fmt='%d')
    dtrain = xgb.DMatrix(os.path.join(out, 'sparse-rank.train.libsvm') + '?format=libsvm')
    dtrain.set_group(sizes[:split])
    dtest = xgb.DMatrix(os.path.join(out, 'sparse-rank.test.libsvm') + '?format=libsvm')
    dtest.set_group(sizes[split:])
    bst = xgb.train(params(seed, objective='rank:pairwise', max_depth=5, eta=0.2, tree_method='hist'), dtrain, 40)
    bst.save_model(os.path.join(out, 'sparse-rank.json'))
    margins = bst.predict(dtest, output_margin=True)
    write_json(os.path.join(out, 'sparse-rank.expected.json'), {
        'model': 'sparse-rank.json', 'objective': 'rank:pairwise', 'input': 'sparse-rank.test.libsvm',
        'format': 'libsvm', 'group': 'sparse-rank.test.query', 'rows': int(dtest.num_row()),
        'margins': floats(margins), 'ndcg10': ndcg_at_10(bst, dtest),
    })
    train_ties(out, seed, 'sparse-rank', dtrain, dtest, 'sparse-rank.test.libsvm', 'sparse-rank.test.query')


def gateway_like(rng, n):
    """Synthetic rows for the gateway's features: 2-decimal or integer values, many missing."""
    X = np.empty((n, len(GATEWAY_FEATURES)))
    X[:, 0] = np.round(rng.normal(5, 2, n), 2)                       # hot
    X[:, 1] = 1_400_000_000 + rng.integers(0, 200, n) * 3600          # created_utc (hour buckets)
    X[:, 2] = np.round(np.exp(rng.normal(3, 2, n)))                   # post_score
    X[:, 3] = np.round(np.exp(rng.normal(2, 1.5, n)))                 # num_comments
    X[:, 4] = np.round(rng.beta(8, 2, n), 2)                          # upvote_ratio
    X[:, 5] = np.round(np.exp(rng.normal(10, 2, n)), -2)              # community_subscribers
    X[:, 6] = np.round(rng.random(n), 2)                              # viewer_affinity
    X[:, 7] = np.round(rng.random(n) ** 2, 2)                         # context_title_similarity
    X[:, 8] = rng.integers(0, 2, n)                                   # is_self
    X[:, 9] = (rng.random(n) < 0.05).astype(float)                    # over_18
    for col, rate in ((4, 0.15), (5, 0.2), (6, 0.5), (7, 0.6), (0, 0.05)):
        X[rng.random(n) < rate, col] = np.nan
    return X


def train_classifier(out, seed):
    rng = np.random.default_rng(seed + 2)
    n = 6000
    X = gateway_like(rng, n)
    z = (0.6 * np.nan_to_num(X[:, 0] - 5) + 1.5 * np.nan_to_num(X[:, 6], nan=0.2) + 2 * np.nan_to_num(X[:, 7])
         + 0.3 * np.log1p(X[:, 3]) - 0.8 * X[:, 9] + np.where(np.isnan(X[:, 4]), -0.5, 2 * (np.nan_to_num(X[:, 4]) - 0.8))
         + np.sin(X[:, 2] / 7) + rng.normal(0, 1, n))
    y = (z > np.quantile(z, 0.7)).astype(float)
    ntrain = n - 300
    dtrain = xgb.DMatrix(X[:ntrain], y[:ntrain], feature_names=GATEWAY_FEATURES)
    bst = xgb.train(params(seed, objective='binary:logistic', max_depth=9, eta=0.3, tree_method='hist', base_score=0.3,
                           min_child_weight=0.5), dtrain, 40)
    bst.save_model(os.path.join(out, 'classifier.json'))
    R = X[ntrain:]
    write_csv(os.path.join(out, 'classifier.rows.csv'), GATEWAY_FEATURES, R)
    dr = xgb.DMatrix(R, feature_names=GATEWAY_FEATURES)
    margins = bst.predict(dr, output_margin=True)
    probs = bst.predict(dr)
    contribs = bst.predict(dr, pred_contribs=True)
    # How many decisions compare a value equal to the threshold (float32 equality: the case float64 gets wrong).
    model = json.loads(bst.save_raw('json'))
    ties = 0
    for t in model['learner']['gradient_booster']['model']['trees']:
        for node, left in enumerate(t['left_children']):
            if left != -1:
                col = R[:, t['split_indices'][node]]
                ties += int(np.sum(np.float32(col) == np.float32(t['split_conditions'][node])))
    depth = max(tree_depth(t) for t in model['learner']['gradient_booster']['model']['trees'])
    write_json(os.path.join(out, 'classifier.expected.json'), {
        'model': 'classifier.json', 'objective': 'binary:logistic', 'input': 'classifier.rows.csv', 'format': 'csv',
        'rows': len(R), 'features': GATEWAY_FEATURES, 'maxDepth': depth, 'rowsOnThreshold': ties,
        'margins': floats(margins), 'predictions': floats(probs), 'contribs': floats(contribs),
    })


def tree_depth(t):
    left, right = t['left_children'], t['right_children']
    stack, best = [(0, 0)], 0
    while stack:
        node, d = stack.pop()
        best = max(best, d)
        if left[node] != -1:
            stack += [(left[node], d + 1), (right[node], d + 1)]
    return best


def train_regression(out, seed):
    rng = np.random.default_rng(seed + 3)
    n, nfeat = 3000, 12
    X = np.round(rng.normal(size=(n, nfeat)), 3)
    X[rng.random(X.shape) < 0.2] = np.nan
    w = rng.normal(size=nfeat)
    y = np.nan_to_num(X) @ w + np.nan_to_num(X[:, 0]) * np.nan_to_num(X[:, 1]) + rng.normal(0, 0.3, n)
    ntrain = n - 200
    bst = xgb.train(params(seed, objective='reg:squarederror', max_depth=6, eta=0.1, base_score=0.25), xgb.DMatrix(X[:ntrain], y[:ntrain]), 60)
    bst.save_model(os.path.join(out, 'regression.json'))
    R = X[ntrain:]
    write_csv(os.path.join(out, 'regression.rows.csv'), [f'x{i}' for i in range(nfeat)], R)
    dr = xgb.DMatrix(R)
    write_json(os.path.join(out, 'regression.expected.json'), {
        'model': 'regression.json', 'objective': 'reg:squarederror', 'input': 'regression.rows.csv', 'format': 'csv',
        'rows': len(R), 'margins': floats(bst.predict(dr, output_margin=True)), 'predictions': floats(bst.predict(dr)),
        'contribs': floats(bst.predict(dr, pred_contribs=True)),
    })


def train_bench(out, seed):
    rng = np.random.default_rng(seed + 4)
    n, nfeat = 20000, 40
    X = rng.random((n, nfeat)).astype(np.float32)
    X[rng.random(X.shape) < 0.1] = np.nan
    w = rng.normal(size=nfeat)
    y = np.nan_to_num(X) @ w + np.sin(np.nan_to_num(X[:, 0]) * 6) + rng.normal(size=n) * 0.1
    bst = xgb.train(params(seed, objective='reg:squarederror', max_depth=6, eta=0.05, tree_method='hist'), xgb.DMatrix(X, y), 300)
    bst.save_model(os.path.join(out, 'bench-300x6.json'))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', default=DEFAULT_OUT)
    ap.add_argument('--seed', type=int, default=DEFAULT_SEED)
    ap.add_argument('--data', default=DEFAULT_DATA, help='lightgbm-lambdarank folder (rank.train, rank.test, *.query)')
    ap.add_argument('--only', default='rank,classifier,regression',
                    help='comma-separated: rank, sparse-rank, classifier, regression, bench')
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    fresh = os.path.abspath(args.out) != os.path.abspath(DEFAULT_OUT) or args.seed != DEFAULT_SEED
    jobs = {
        'rank': lambda: train_rank(args.out, args.seed, args.data, fresh),
        'sparse-rank': lambda: train_sparse_rank(args.out, args.seed),
        'classifier': lambda: train_classifier(args.out, args.seed),
        'regression': lambda: train_regression(args.out, args.seed),
        'bench': lambda: train_bench(args.out, args.seed),
    }
    for name in args.only.split(','):
        if name not in jobs:
            ap.error(f'unknown model "{name}" in --only (known: {", ".join(jobs)})')
        jobs[name]()
    print(json.dumps({'out': args.out, 'seed': args.seed, 'xgboost': xgb.__version__, 'models': args.only.split(',')}))


if __name__ == '__main__':
    main()
