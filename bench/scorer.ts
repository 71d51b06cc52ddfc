/**
 * The xgboost scorer against native xgboost: rows per second scoring 1,000 rows with a 300-tree, depth-6 model over
 * 40 features, ours (src/rankers/xgboost/predict.ts) and xgboost 1.7's `inplace_predict` with nthread=1 (one core
 * each), in the same run, on the same rows, with the margins checked equal.
 *
 *   npx tsc -p tsconfig.bench.json && node dist/bench/scorer.js
 *
 * The model is committed (test/fixtures/xgboost/bench-300x6.json, 2.2 MB; `scripts/train_fixtures.py --only bench`
 * rebuilds it), so nothing is trained at bench time. Native timing needs Debian's /usr/bin/python3 with xgboost
 * (XGBOOST_PYTHON overrides). The rows are generated here (uniform [0, 1), 10% missing) and handed to python as raw
 * float64. Each side is timed in two phases, interleaved (native, ours, native, ours), so load from other processes
 * hits both; the headline uses the median time per call over all calls. Environment: BENCH_SCORER_CALLS (per phase,
 * default 150).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../src/config';
import { loadXgboostModelSync } from '../src/rankers/xgboost/model';
import { predictMargins } from '../src/rankers/xgboost/predict';

const MODEL = path.join(repoRoot, 'test', 'fixtures', 'xgboost', 'bench-300x6.json');
const ROWS = 1000;
const PYTHON = process.env.XGBOOST_PYTHON ?? '/usr/bin/python3';

/** Times `calls` calls of inplace_predict (after a warm-up) and prints them, with the margins, as JSON. */
const NATIVE = `
import json, sys, time
import numpy as np, xgboost as xgb
model, rows_file, nrows, calls = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
bst = xgb.Booster(model_file=model)
bst.set_param({'nthread': 1})
X = np.fromfile(rows_file, dtype='<f8').reshape(nrows, -1)
for _ in range(20): bst.inplace_predict(X)
times = []
for _ in range(calls):
    t = time.perf_counter(); bst.inplace_predict(X); times.append(time.perf_counter() - t)
m = bst.inplace_predict(X, predict_type='margin')
print(json.dumps({'times': times, 'margins': [float(v) for v in m], 'version': xgb.__version__}))
`;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** A small deterministic generator (mulberry32) so every run scores the same rows. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function benchScorer(): Promise<{ rowsPerSecOurs: number; rowsPerSecNative: number; ratio: number; details: string }> {
  const calls = Number(process.env.BENCH_SCORER_CALLS ?? 150);
  if (!Number.isInteger(calls) || calls < 10) throw new Error(`BENCH_SCORER_CALLS must be an integer >= 10 (got ${process.env.BENCH_SCORER_CALLS})`);
  const model = loadXgboostModelSync(MODEL);
  const width = model.numFeature;
  const random = rng(42);
  const values = new Float64Array(ROWS * width);
  for (let i = 0; i < values.length; i++) values[i] = random() < 0.1 ? NaN : random();

  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-scorer-'));
  try {
    const rowsFile = path.join(dir, 'rows.f64');
    writeFileSync(rowsFile, Buffer.from(values.buffer, values.byteOffset, values.byteLength));

    const native = (): { times: number[]; margins: number[]; version: string } => {
      const r = spawnSync(PYTHON, ['-c', NATIVE, MODEL, rowsFile, String(ROWS), String(calls)], { encoding: 'utf8', timeout: 300_000, maxBuffer: 64 << 20 });
      if (r.error || r.status !== 0) {
        throw new Error(`native xgboost timing needs ${PYTHON} with xgboost (apt-get install python3-xgboost): ${r.error?.message ?? r.stderr.trim()}`);
      }
      return JSON.parse(r.stdout) as { times: number[]; margins: number[]; version: string };
    };
    const ours = (): number[] => {
      for (let i = 0; i < 20; i++) predictMargins(model, values, ROWS);
      const times: number[] = [];
      for (let i = 0; i < calls; i++) {
        const t = process.hrtime.bigint();
        predictMargins(model, values, ROWS);
        times.push(Number(process.hrtime.bigint() - t) / 1e9);
      }
      return times;
    };

    const n1 = native();
    const o1 = ours();
    const n2 = native();
    const o2 = ours();
    const nativeTimes = [...n1.times, ...n2.times];
    const ourTimes = [...o1, ...o2];

    const margins = predictMargins(model, values, ROWS);
    let maxErr = 0;
    for (let i = 0; i < ROWS; i++) maxErr = Math.max(maxErr, Math.abs(margins[i]! - n1.margins[i]!));
    if (maxErr > 1e-5) throw new Error(`margins differ from xgboost by up to ${maxErr}: the timing would compare different work`);

    const rowsPerSecOurs = ROWS / median(ourTimes);
    const rowsPerSecNative = ROWS / median(nativeTimes);
    const ratio = rowsPerSecOurs / rowsPerSecNative;
    const bestRatio = Math.min(...nativeTimes) / Math.min(...ourTimes);
    const ms = (s: number) => `${(s * 1e3).toFixed(2)} ms`;
    const details = [
      `model ${path.relative(repoRoot, MODEL)}: ${model.numTrees} trees, max depth ${Math.max(...model.treeDepth)}, ${width} features; ${ROWS} rows (10% missing)`,
      `ours (node ${process.version}): median ${ms(median(ourTimes))} per ${ROWS} rows (phases ${ms(median(o1))}, ${ms(median(o2))}; best ${ms(Math.min(...ourTimes))})`,
      `native xgboost ${n1.version} inplace_predict, nthread=1: median ${ms(median(nativeTimes))} (phases ${ms(median(n1.times))}, ${ms(median(n2.times))}; best ${ms(Math.min(...nativeTimes))})`,
      `ratio ours/native (rows/s, medians): ${ratio.toFixed(2)}; best-of ratio ${bestRatio.toFixed(2)}; max abs margin difference ${maxErr}`,
      `${calls} calls per phase, 2 phases each, interleaved; machine: ${os.cpus()[0]?.model ?? 'unknown cpu'}, ${os.cpus().length} cpus, load ${os.loadavg()[0]!.toFixed(2)}`,
    ].join('\n');
    return { rowsPerSecOurs, rowsPerSecNative, ratio, details };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  benchScorer().then(
    (r) => process.stdout.write(`${r.details}\nrows/s ours ${Math.round(r.rowsPerSecOurs)}, native ${Math.round(r.rowsPerSecNative)}, ratio ${r.ratio.toFixed(2)}\n`),
    (err: unknown) => {
      process.stderr.write(`bench/scorer: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
