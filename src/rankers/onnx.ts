import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { z } from 'zod';
import type { FeatureBatch, RankerFactory } from './ranker';

const Params = z.object({
  /** Path to the `.onnx` file, relative to the ranker configuration file. */
  model: z.string().min(1, 'model must name an .onnx file'),
  /** Column order of the model's input: batch column i is `features[i]`. */
  features: z.array(z.string().min(1)).min(1, 'features must name at least one feature'),
  /** Input name. @default the model's only input */
  input: z.string().min(1).optional(),
  /** Output name. @default the model's only output */
  output: z.string().min(1).optional(),
});

/**
 * A model exported to ONNX (an MLP, a GBDT through onnxmltools/hummingbird...), run in-process by onnxruntime on CPU.
 *
 * The model takes one float32 input of shape [n, features.length] and returns one score per row, shaped [n] or [n, 1].
 * Both are checked when the model loads, so a wrong export fails at boot or reload (the registry keeps the previous
 * version) rather than on the first request.
 *
 * Missing values are passed to the model as NaN, untouched: what "missing" means is part of the model, not of the
 * gateway. A tree model exported with its missing-value branches handles NaN natively; a neural model must impute
 * inside the graph (e.g. `IsNaN` + `Where` with the training-time fill values, as test/fixtures/onnx/mlp.onnx does).
 * A model that lets NaN reach its output gets its batch refused (the pipeline serves the fallback), because the
 * ranker contract promises finite scores and a NaN score would silently sort the feed in an arbitrary order.
 *
 * `version` is the spec's version, or the first 12 hex digits of the model file's sha256, so replacing the file
 * changes every snapshot key that depends on it.
 *
 * Cost: onnxruntime-node 1.30 runs a session synchronously on the JavaScript thread (its `run` only defers the call with
 * setImmediate); the model's own operators use onnxruntime's thread pool, but the event loop waits for the whole run.
 * That is negligible for small rankers (a small MLP like the test one is a few matrix products a batch); a large
 * model belongs behind the `remote` kind or in a worker thread. `signal` is not honoured: a run cannot be interrupted
 * midway.
 */
export const createOnnxRanker: RankerFactory = async (spec, ctx) => {
  const fail = (msg: string): never => {
    throw new Error(`ranker "${spec.id}" (onnx): ${msg}`);
  };
  const parsed = Params.safeParse(spec.params);
  if (!parsed.success) fail(parsed.error!.issues.map((i) => `${i.path.join('.') || 'params'}: ${i.message}`).join('; '));
  const params = parsed.data!;
  const file = ctx.resolvePath(params.model);
  const width = params.features.length;

  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    return fail(`cannot read model ${file}: ${(err as Error).message}`);
  }
  let session: InferenceSession;
  try {
    session = await InferenceSession.create(bytes, { executionProviders: ['cpu'], graphOptimizationLevel: 'all' });
  } catch (err) {
    return fail(`cannot load model ${file}: ${(err as Error).message}`);
  }

  try {
    const input = pick('input', session.inputMetadata, params.input);
    const output = pick('output', session.outputMetadata, params.output);
    if (input.isTensor) {
      if (input.type !== 'float32') fail(`input "${input.name}" of ${file} is ${input.type}; the gateway feeds float32`);
      if (input.shape.length !== 0) {
        if (input.shape.length !== 2) fail(`input "${input.name}" of ${file} has shape [${input.shape.join(', ')}]; expected [n, ${width}]`);
        const cols = input.shape[1];
        if (typeof cols === 'number' && cols >= 0 && cols !== width) {
          fail(`input "${input.name}" of ${file} takes ${cols} features per row, but params.features lists ${width}`);
        }
      }
    }
    if (output.isTensor) {
      if (output.type !== 'float32' && output.type !== 'float64') fail(`output "${output.name}" of ${file} is ${output.type}; expected float32 or float64 scores`);
      if (output.shape.length !== 0 && !oneScorePerRow(output.shape)) {
        fail(`output "${output.name}" of ${file} has shape [${output.shape.join(', ')}]; expected one score per row ([n] or [n, 1])`);
      }
    }
    return build(input.name, output.name);
  } catch (err) {
    await session.release();
    throw err;
  }

  function pick(kind: 'input' | 'output', all: readonly InferenceSession.ValueMetadata[], wanted: string | undefined): InferenceSession.ValueMetadata {
    const names = all.map((m) => `"${m.name}"`).join(', ');
    if (wanted === undefined) {
      if (all.length !== 1) fail(`${file} has ${all.length} ${kind}s (${names}); set params.${kind} to choose one`);
      return all[0]!;
    }
    return all.find((m) => m.name === wanted) ?? fail(`${file} has no ${kind} "${wanted}" (it has ${names})`);
  }

  function build(inputName: string, outputName: string) {
    let closed = false;
    // Releasing a native session while a run is in flight is undefined behaviour in onnxruntime: close() waits.
    const inFlight = new Set<Promise<unknown>>();

    async function run(batch: FeatureBatch): Promise<Float64Array> {
      const { rows } = batch;
      if (batch.values.length !== rows * width) {
        fail(`batch has ${batch.values.length} values for ${rows} rows of ${width} features`);
      }
      if (rows === 0) return new Float64Array(0);
      // Float32Array.from keeps NaN as NaN: missing values reach the model as the documentation above promises.
      const x = new Tensor('float32', Float32Array.from(batch.values), [rows, width]);
      let result: InferenceSession.ReturnType;
      try {
        result = await session.run({ [inputName]: x }, [outputName]);
      } catch (err) {
        return fail(`inference failed: ${(err as Error).message}`);
      }
      const y = result[outputName] as Tensor | undefined;
      if (!y) return fail(`model returned no output "${outputName}"`);
      if (!(y.dims.length === 1 || (y.dims.length === 2 && y.dims[1] === 1)) || y.dims[0] !== rows) {
        fail(`output "${outputName}" has shape [${y.dims.join(', ')}] for ${rows} rows; expected [${rows}] or [${rows}, 1]`);
      }
      const data = y.data as Float32Array | Float64Array;
      const out = Float64Array.from(data);
      let bad = 0;
      for (const v of out) if (!Number.isFinite(v)) bad++;
      if (bad > 0) fail(`model returned ${bad} non-finite score(s) of ${rows} (does the graph handle NaN inputs?)`);
      return out;
    }

    return {
      id: spec.id,
      version: spec.version || createHash('sha256').update(bytes).digest('hex').slice(0, 12),
      description: spec.description,
      features: params.features,
      /** One score per row, same length and order as the batch. */
      score(batch: FeatureBatch): Promise<Float64Array> {
        if (closed) return Promise.reject(new Error(`ranker "${spec.id}" (onnx): closed`));
        const p = run(batch);
        inFlight.add(p);
        const forget = () => inFlight.delete(p);
        p.then(forget, forget);
        return p;
      },
      async close(): Promise<void> {
        if (closed) return;
        closed = true;
        await Promise.allSettled([...inFlight]);
        await session.release();
      },
    };
  }
};

/** [n] or [n, 1]; a symbolic second dimension is accepted here and checked on every run. */
function oneScorePerRow(shape: ReadonlyArray<number | string>): boolean {
  if (shape.length === 1) return true;
  if (shape.length !== 2) return false;
  const cols = shape[1];
  return typeof cols === 'string' || cols === 1 || cols === -1;
}
