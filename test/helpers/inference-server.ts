import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** A model: FP32 feature rows in, one score per row out. */
export type InferenceModel = (rows: number[][]) => number[];

/**
 * How the server answers `infer` calls:
 * - `ok`: the model's scores, shape [n, 1], FP32;
 * - `slow`: the same after `delayMs`;
 * - `error`: HTTP 500 with the protocol's `{ "error": ... }` body;
 * - `garbage`: HTTP 200 with one score too few;
 * - `hang`: never answers (the socket stays open until `close()`).
 */
export type InferenceMode = 'ok' | 'slow' | 'error' | 'garbage' | 'hang';

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** The parsed JSON body, or the raw text when it was not JSON (undefined for a GET). */
  readonly body: unknown;
}

export interface InferenceServer {
  /** Base URL, e.g. `http://127.0.0.1:41234` (no trailing slash). */
  readonly url: string;
  setMode(mode: InferenceMode, delayMs?: number): void;
  /** Every request received, in arrival order. */
  readonly requests: RecordedRequest[];
  /** Stops listening and destroys open sockets (a `hang` request included), so a test file can end. */
  close(): Promise<void>;
}

interface InferRequest {
  id?: unknown;
  inputs?: Array<{ name?: unknown; shape?: unknown; datatype?: unknown; data?: unknown }>;
}

const INPUT = 'input__0';
const OUTPUT = 'output__0';

/**
 * A small Open Inference Protocol (KServe v2) server on a loopback port, for tests: `GET /v2/health/ready`,
 * `GET /v2/models/{name}` (metadata), `POST /v2/models/{name}/infer` (one FP32 input [n, f], one FP32 output [n, 1]).
 * Like a real FP32 server it rounds the inputs it parses and the scores it returns to float32.
 */
export async function startInferenceServer(opts: { models: Record<string, InferenceModel> }): Promise<InferenceServer> {
  let mode: InferenceMode = 'ok';
  let delay = 500;
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const send = (res: ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };

  const later = (fn: () => void, ms: number) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: unknown = raw === '' ? undefined : raw;
    try {
      if (raw !== '') body = JSON.parse(raw);
    } catch {
      // keep the raw text: the test may want to see what was sent
    }
    const path = (req.url ?? '/').split('?')[0]!;
    requests.push({ method: req.method ?? '', path, headers: req.headers, body });

    if (req.method === 'GET' && (path === '/v2/health/ready' || path === '/v2/health/live')) {
      return send(res, 200, path.endsWith('ready') ? { ready: true } : { live: true });
    }
    const m = /^\/v2\/models\/([^/]+)(\/infer)?$/.exec(path);
    const name = m ? decodeURIComponent(m[1]!) : undefined;
    const model = name !== undefined ? opts.models[name] : undefined;
    if (!m || !model) return send(res, 404, { error: `no route or model for ${req.method} ${path}` });
    if (!m[2]) {
      if (req.method !== 'GET') return send(res, 405, { error: 'use GET for model metadata' });
      return send(res, 200, {
        name,
        platform: 'node_test',
        inputs: [{ name: INPUT, datatype: 'FP32', shape: [-1, -1] }],
        outputs: [{ name: OUTPUT, datatype: 'FP32', shape: [-1, 1] }],
      });
    }
    if (req.method !== 'POST') return send(res, 405, { error: 'use POST for inference' });

    const parsed = parseInfer(body);
    if (typeof parsed === 'string') return send(res, 400, { error: parsed });
    const { id, rows } = parsed;
    const answer = (scores: number[]) =>
      send(res, 200, {
        model_name: name,
        ...(id !== undefined ? { id } : {}),
        outputs: [{ name: OUTPUT, shape: [scores.length, 1], datatype: 'FP32', data: scores.map(Math.fround) }],
      });

    switch (mode) {
      case 'ok':
        return answer(model(rows));
      case 'slow':
        return later(() => answer(model(rows)), delay);
      case 'error':
        return send(res, 500, { error: 'injected failure' });
      case 'garbage':
        return answer(model(rows).slice(1));
      case 'hang':
        return; // never answer: the client's deadline is what ends this request
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (!res.headersSent) send(res, 500, { error: String(err) });
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    setMode(next, delayMs) {
      mode = next;
      if (delayMs !== undefined) delay = delayMs;
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // server.close() only stops accepting; keep-alive and hung sockets would keep it (and jest) alive.
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

/** Checks the request is one FP32 input [n, f] with n*f numbers, and returns its rows (float32-rounded). */
function parseInfer(body: unknown): { id: unknown; rows: number[][] } | string {
  const req = body as InferRequest | undefined;
  if (typeof req !== 'object' || req === null || !Array.isArray(req.inputs) || req.inputs.length !== 1) {
    return 'expected a JSON object with one input';
  }
  const input = req.inputs[0]!;
  if (input.name !== INPUT) return `unknown input ${JSON.stringify(input.name)} (expected "${INPUT}")`;
  if (input.datatype !== 'FP32') return `input datatype ${JSON.stringify(input.datatype)} (expected FP32)`;
  const shape = input.shape;
  if (!Array.isArray(shape) || shape.length !== 2 || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    return `input shape ${JSON.stringify(shape)} (expected [n, f])`;
  }
  const [n, f] = shape as [number, number];
  const data = input.data;
  if (!Array.isArray(data) || data.length !== n * f || !data.every((v) => typeof v === 'number')) {
    return `input data must be ${n * f} numbers, flattened row-major`;
  }
  const rows: number[][] = [];
  for (let r = 0; r < n; r++) rows.push((data as number[]).slice(r * f, r * f + f).map(Math.fround));
  return { id: req.id, rows };
}
