#!/usr/bin/python3
"""Builds the ONNX fixtures for test/unit/onnx.test.ts. Deterministic: the same bytes on every run.

Run with Debian's python (it has onnx 1.12 and numpy; the python3 first on PATH may not):
    /usr/bin/python3 scripts/make_onnx_fixture.py

Writes test/fixtures/onnx/:
  mlp.onnx       8 features -> 16 relu -> 1 score, input "features" float32 [N, 8], output "score" float32 [N, 1].
                 Missing values (NaN) are replaced by a per-feature fill value inside the graph (IsNaN + Where), the way
                 a real exported ranker has to handle them: the gateway passes NaN through untouched. The fills are not
                 zero, so a gateway that turned NaN into 0 before inference would fail the comparison.
  wide.onnx      the same hidden layer with 2 outputs per row ([N, 2]): a shape the onnx ranker must refuse.
  expected.json  100 input rows (null = missing) and the scores numpy computes in float32.
"""
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FEATURES = 8
HIDDEN = 16
ROWS = 100
# Opset 13 and IR 7 are old enough for onnx 1.12 to write and for any onnxruntime since 1.6 to load.
OPSET = 13
IR_VERSION = 7

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'onnx')


def f32(a):
    return np.asarray(a, dtype=np.float32)


def build(rng, outputs, name):
    fill = f32(rng.uniform(0.25, 1.0, size=FEATURES))
    w1 = f32(rng.normal(0, 0.5, size=(FEATURES, HIDDEN)))
    b1 = f32(rng.normal(0, 0.1, size=HIDDEN))
    w2 = f32(rng.normal(0, 0.5, size=(HIDDEN, outputs)))
    b2 = f32(rng.normal(0, 0.1, size=outputs))
    inits = [numpy_helper.from_array(v, n) for v, n in [(fill, 'fill'), (w1, 'w1'), (b1, 'b1'), (w2, 'w2'), (b2, 'b2')]]
    nodes = [
        helper.make_node('IsNaN', ['features'], ['missing']),
        helper.make_node('Where', ['missing', 'fill', 'features'], ['x']),
        helper.make_node('Gemm', ['x', 'w1', 'b1'], ['h_lin']),
        helper.make_node('Relu', ['h_lin'], ['h']),
        helper.make_node('Gemm', ['h', 'w2', 'b2'], ['score']),
    ]
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info('features', TensorProto.FLOAT, ['N', FEATURES])],
        [helper.make_tensor_value_info('score', TensorProto.FLOAT, ['N', outputs])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', OPSET)], producer_name='ranking-gateway-fixture')
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model, (fill, w1, b1, w2, b2)


def forward(x, params):
    fill, w1, b1, w2, b2 = params
    x = np.where(np.isnan(x), fill, x).astype(np.float32)
    h = np.maximum(x @ w1 + b1, np.float32(0))
    return (h @ w2 + b2).astype(np.float32)


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    rng = np.random.default_rng(20240611)
    mlp, params = build(rng, 1, 'mlp_ranker')
    wide, _ = build(rng, 2, 'wide_ranker')

    x = f32(rng.normal(0, 1, size=(ROWS, FEATURES)))
    x[rng.uniform(size=x.shape) < 0.1] = np.nan
    y = forward(x, params)[:, 0]

    onnx.save(mlp, os.path.join(OUT_DIR, 'mlp.onnx'))
    onnx.save(wide, os.path.join(OUT_DIR, 'wide.onnx'))
    # float(np.float32) is exact in a double, and repr round-trips it, so the JSON holds the float32 values bit for bit.
    expected = {
        'model': 'mlp.onnx',
        'input': 'features',
        'output': 'score',
        'features': FEATURES,
        'rows': [[None if np.isnan(v) else float(v) for v in row] for row in x],
        'scores': [float(v) for v in y],
    }
    with open(os.path.join(OUT_DIR, 'expected.json'), 'w') as fh:
        json.dump(expected, fh, separators=(',', ':'))
        fh.write('\n')


if __name__ == '__main__':
    main()
