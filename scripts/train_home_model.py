#!/usr/bin/python3
"""Train the home feed's LambdaMART ranker on features logged by the gateway (npm run train calls this).

Input: a CSV written by src/mle/train.ts: columns `label`, `group`, then one column per feature, named as the
gateway's feature registry names them (columns named "_..." are metadata and skipped, as `cli export-log` writes
them); rows of one group (a viewer's session) are contiguous; an empty cell is a missing value. Output: an XGBoost JSON model whose feature_names are those columns, which the gateway's `xgboost`
ranker kind loads as it is.

Run with Debian's python3 (python3-xgboost 1.7): /usr/bin/python3 scripts/train_home_model.py --train F --out M
"""
import argparse
import csv
import json
import sys

import numpy as np
import xgboost as xgb


def read(path):
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        # Columns named "_..." carry metadata (request, position, ...), not features.
        cols = [i for i in range(2, len(header)) if not header[i].startswith("_")]
        features = [header[i] for i in cols]
        labels, groups, rows = [], [], []
        for rec in reader:
            labels.append(float(rec[0]))
            groups.append(rec[1])
            rows.append([float(rec[i]) if rec[i] not in ("", "NaN", "nan") else np.nan for i in cols])
    # float32, as the gateway compares features: thresholds learned here must split the same values the same way.
    x = np.asarray(rows, dtype=np.float32)
    sizes = []
    last = None
    for g in groups:
        if g != last:
            sizes.append(0)
            last = g
        sizes[-1] += 1
    return features, x, np.asarray(labels, dtype=np.float32), sizes


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--trees", type=int, default=300)
    ap.add_argument("--depth", type=int, default=6)
    ap.add_argument("--eta", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--objective", default="rank:pairwise")
    args = ap.parse_args()

    features, x, y, sizes = read(args.train)
    dtrain = xgb.DMatrix(x, label=y, missing=np.nan, feature_names=features)
    dtrain.set_group(sizes)
    params = {
        "objective": args.objective,
        "eta": args.eta,
        "max_depth": args.depth,
        "min_child_weight": 1.0,
        "subsample": 0.8,
        "colsample_bytree": 0.8,
        "eval_metric": "ndcg@10",
        "tree_method": "hist",
        "seed": args.seed,
        "nthread": 2,
    }
    booster = xgb.train(params, dtrain, num_boost_round=args.trees, evals=[(dtrain, "train")], verbose_eval=50)
    booster.save_model(args.out)
    json.dump(
        {"features": features, "rows": int(x.shape[0]), "groups": len(sizes), "trees": args.trees, "depth": args.depth, "xgboost": xgb.__version__},
        sys.stdout,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
