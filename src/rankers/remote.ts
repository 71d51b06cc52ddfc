import { randomUUID } from 'node:crypto';
import { context, propagation } from '@opentelemetry/api';
import { z } from 'zod';
import { DeadlineExceeded, withDeadline } from '../deadline';
import { withSpan } from '../telemetry/tracing';
import type { FeatureBatch, RankerFactory, ScoreOptions } from './ranker';

/** The largest finite float32: what ±Infinity is clamped to, since JSON cannot carry it. */
const FLOAT32_MAX = 3.4028234663852886e38;

const Params = z.object({
  /** Base URL of the inference server (KServe, Triton, Seldon MLServer, OVMS...), e.g. `http://ranker:8080`. */
  url: z.string().url().refine((u) => /^https?:\/\//i.test(u), 'url must be http:// or https://'),
  /** Model name in the server: requests go to `{url}/v2/models/{model}/infer`. */
  model: z.string().min(1),
  /** Column order of the input tensor: column i is `features[i]`. */
  features: z.array(z.string().min(1)).min(1, 'features must name at least one feature'),
  /**
   * How long one call may take, connection, request and response body included; after that the call rejects and the
   * pipeline serves the variant's fallback. @default 150
   */
  timeoutMs: z.number().int().positive().default(150),
  /** Input tensor name. @default "input__0" (Triton's naming for models without named inputs) */
  input: z.string().min(1).default('input__0'),
  /** Output tensor to read. When set, the request asks for it by name. @default the response's only output */
  output: z.string().min(1).optional(),
  /** Extra request headers (an API key, a routing header). Never logged or put on spans. */
  headers: z.record(z.string(), z.string()).default({}),
  /**
   * What a missing feature (NaN) is sent as. JSON has no NaN, and the protocol's `data` is an array of JSON numbers:
   * a `NaN` token is invalid JSON and `null` is not an FP32 value, so servers built on strict parsers (Triton, OVMS)
   * reject both. The choice is therefore the model's: send the fill value it was trained with (0 by default, which is
   * what "missing" means for most of our features), or `"error"` to refuse batches with missing values (the pipeline
   * then serves the fallback). @default 0
   */
  missingValue: z.union([z.number().finite(), z.literal('error')]).default(0),
});

/**
 * A model served by an inference server speaking the Open Inference Protocol (KServe v2) over HTTP/JSON.
 *
 * One `score` call is one `POST {url}/v2/models/{model}/infer` with a single FP32 input of shape [n, f] (the batch,
 * flattened row-major) and reads one output of shape [n] or [n, 1] (FP32 or FP64; nested or flat `data`, both allowed
 * by the protocol). Anything else (an HTTP error, a timeout, a wrong length, a non-finite score) rejects with a message
 * naming the ranker and the model, and the pipeline serves the variant's fallback.
 *
 * The call is bounded by `timeoutMs` and by the caller's `signal`, whichever comes first, so a hung server never holds a
 * request longer than its budget. It runs in a `rank.remote` span and carries the W3C trace context (`traceparent`) of
 * that span, so the server's spans join the request's trace when a propagator is registered. Connections are reused
 * (fetch's undici keeps them alive by default).
 *
 * `version` must be set in the spec: the gateway cannot see the served model, so whoever deploys a new one bumps it.
 */
export const createRemoteRanker: RankerFactory = (spec) => {
  const fail = (msg: string): never => {
    throw new Error(`ranker "${spec.id}" (remote): ${msg}`);
  };
  const parsed = Params.safeParse(spec.params);
  if (!parsed.success) fail(parsed.error!.issues.map((i) => `${i.path.join('.') || 'params'}: ${i.message}`).join('; '));
  const p = parsed.data!;
  if (!spec.version) fail('version is required for a remote model (the gateway cannot derive it from a file)');
  const endpoint = `${p.url.replace(/\/+$/, '')}/v2/models/${encodeURIComponent(p.model)}/infer`;
  const width = p.features.length;
  const where = `model "${p.model}" at ${endpoint}`;

  function encode(batch: FeatureBatch): number[] {
    const data = new Array<number>(batch.values.length);
    for (let i = 0; i < batch.values.length; i++) {
      const v = batch.values[i]!;
      if (Number.isNaN(v)) {
        if (p.missingValue === 'error') fail(`row ${Math.floor(i / width)} has a missing "${p.features[i % width]}" and missingValue is "error"`);
        data[i] = p.missingValue as number;
      } else if (!Number.isFinite(v)) {
        // JSON.stringify would turn ±Infinity into null; the nearest FP32 value keeps the ordering the model sees.
        data[i] = v > 0 ? FLOAT32_MAX : -FLOAT32_MAX;
      } else {
        data[i] = v;
      }
    }
    return data;
  }

  async function call(batch: FeatureBatch, signal: AbortSignal | undefined): Promise<Float64Array> {
    const rows = batch.rows;
    if (batch.values.length !== rows * width) fail(`batch has ${batch.values.length} values for ${rows} rows of ${width} features`);
    if (rows === 0) return new Float64Array(0);
    if (signal?.aborted) fail(`aborted by the caller before calling ${where}`);
    const id = randomUUID();
    const body = JSON.stringify({
      id,
      inputs: [{ name: p.input, shape: [rows, width], datatype: 'FP32', data: encode(batch) }],
      ...(p.output !== undefined ? { outputs: [{ name: p.output }] } : {}),
    });

    return withSpan('rank.remote', { 'rank.ranker': spec.id, 'rank.model': p.model, 'rank.rows': rows }, async (span) => {
      const headers: Record<string, string> = { ...p.headers, 'content-type': 'application/json', accept: 'application/json' };
      // Inside the span, so `traceparent` names rank.remote as the server's parent span.
      propagation.inject(context.active(), headers);

      let res: Response;
      let text: string;
      try {
        // Under the call's deadline and the caller's (src/deadline.ts). The body read is under the same signal: a
        // server that sends headers and then stalls is cut off too.
        ({ res, text } = await withDeadline(
          async (deadline) => {
            const answer = await fetch(endpoint, { method: 'POST', headers, body, signal: deadline });
            span.setAttribute('http.response.status_code', answer.status);
            return { res: answer, text: await answer.text() };
          },
          p.timeoutMs,
          { signal },
        ));
      } catch (err) {
        if (err instanceof DeadlineExceeded) return fail(`${where} did not answer within ${p.timeoutMs} ms`);
        if (signal?.aborted) return fail(`aborted by the caller while waiting for ${where}`);
        return fail(`cannot reach ${where}: ${describe(err)}`);
      }
      if (res.status !== 200) return fail(`${where} answered HTTP ${res.status}: ${errorText(text)}`);
      return decode(text, rows, id);
    });
  }

  function decode(text: string, rows: number, id: string): Float64Array {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return fail(`${where} answered with invalid JSON: ${snippet(text)}`);
    }
    const res = json as { id?: unknown; outputs?: unknown };
    if (typeof json !== 'object' || json === null || !Array.isArray(res.outputs)) fail(`${where} answered without an "outputs" array`);
    if (res.id !== undefined && res.id !== id) fail(`${where} answered request "${String(res.id)}" to request "${id}"`);
    const outputs = res.outputs as Array<{ name?: unknown; shape?: unknown; datatype?: unknown; data?: unknown }>;
    const names = outputs.map((o) => `"${String(o?.name)}"`).join(', ');
    let out;
    if (p.output !== undefined) {
      out = outputs.find((o) => o?.name === p.output) ?? fail(`${where} returned no output "${p.output}" (it returned ${names || 'none'})`);
    } else {
      if (outputs.length !== 1) fail(`${where} returned ${outputs.length} outputs (${names}); set params.output to choose one`);
      out = outputs[0]!;
    }
    const label = `output "${String(out.name)}" of ${where}`;
    if (out.datatype !== 'FP32' && out.datatype !== 'FP64') fail(`${label} has datatype ${JSON.stringify(out.datatype)}; expected FP32 or FP64`);
    const shape = out.shape;
    const shapeOk =
      Array.isArray(shape) && shape[0] === rows && (shape.length === 1 || (shape.length === 2 && shape[1] === 1));
    if (!shapeOk) fail(`${label} has shape ${JSON.stringify(shape)} for ${rows} rows; expected [${rows}] or [${rows}, 1]`);
    // The protocol allows tensor data nested like the shape ([[s0], [s1]]) or flat ([s0, s1]).
    const data = Array.isArray(out.data) ? (out.data as unknown[]).flat() : undefined;
    if (!data || data.length !== rows) fail(`${label} has ${data ? data.length : 'no'} values for ${rows} rows`);
    const scores = new Float64Array(rows);
    for (let i = 0; i < rows; i++) {
      const v = data![i];
      if (typeof v !== 'number' || !Number.isFinite(v)) fail(`${label} has a non-numeric or non-finite score at row ${i}: ${JSON.stringify(v)}`);
      scores[i] = v as number;
    }
    return scores;
  }

  return {
    id: spec.id,
    version: spec.version,
    description: spec.description,
    features: p.features,
    /** One score per row, same length and order as the batch; rejects rather than returning partial scores. */
    score(batch: FeatureBatch, opts?: ScoreOptions): Promise<Float64Array> {
      return call(batch, opts?.signal);
    },
  };
};

/** The protocol's error object is `{ "error": "..." }`; fall back to the start of whatever came back. */
function errorText(text: string): string {
  try {
    const j = JSON.parse(text) as { error?: unknown };
    if (typeof j?.error === 'string') return j.error;
  } catch {
    // not JSON: show it raw
  }
  return snippet(text) || '(empty body)';
}

function snippet(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}

/** fetch reports network failures as "fetch failed" with the useful part (ECONNREFUSED...) in `cause`. */
function describe(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  const cause = e.cause?.code ?? e.cause?.message;
  return cause ? `${e.message} (${cause})` : String(e?.message ?? err);
}
