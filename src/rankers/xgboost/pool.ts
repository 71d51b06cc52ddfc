/**
 * Scoring off the event loop: a small pool of worker threads that run `marginsKernel` (the very function the
 * in-thread scorer runs, built from its source text) on float32 rows.
 *
 * Why: a cold home request scores every candidate (over a thousand) with 300 trees, pure CPU work. On the event loop
 * that time is taken from every other request in flight (with concurrent clients a request waited for the others'
 * scoring); in a worker it runs on the second core while the event loop serves the rest.
 *
 * Nothing is copied or transferred: models' packed arrays live in SharedArrayBuffers (`packedModel`), sent to a
 * worker once; a job's float32 rows and its margins live in SharedArrayBuffers too, and the messages carry only
 * their handles. (Transferring an ArrayBuffer instead would cost the gateway's main thread on every job: detaching a
 * buffer takes longer the larger the heap, which holds the whole corpus. Sharing passes a handle, whatever the heap.)
 * A worker that dies fails only its own jobs, which the caller then scores in its own thread; after repeated failures
 * the pool stops offering workers.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { marginsKernel, type PackedModel } from './predict';

/** A job: write the margins of `rows` rows of model `model` to `out`. Both arrays are on SharedArrayBuffers. */
interface JobMessage {
  readonly type: 'score';
  readonly job: number;
  readonly model: number;
  readonly x: Float32Array;
  readonly out: Float64Array;
  readonly rows: number;
}

type WorkerReply = { readonly job: number; readonly error?: string };

const WORKER_SOURCE = `
'use strict';
const { parentPort } = require('node:worker_threads');
const marginsKernel = (${marginsKernel.toString()});
const models = new Map();
// Reused working memory for the kernel: allocating it per job made this thread collect garbage all the time.
let scratch = new Float32Array(0);
parentPort.on('message', (m) => {
  if (m.type === 'model') { models.set(m.id, m.packed); return; }
  if (m.type === 'drop') { models.delete(m.id); return; }
  try {
    const p = models.get(m.model);
    if (!p) throw new Error('unknown model ' + m.model);
    const need = Math.min(m.rows, 1024) * (2 * p.width + 1);
    if (scratch.length < need) scratch = new Float32Array(need);
    marginsKernel(p.nodes, p.values, p.roots, p.depths, p.baseMargin, p.width, m.x, m.rows, m.out, scratch);
    parentPort.postMessage({ job: m.job });
  } catch (err) {
    parentPort.postMessage({ job: m.job, error: String(err && err.stack || err) });
  }
});
`;

/** A job's rows (float32) and margins (float64). */
interface JobBuffers {
  readonly x: SharedArrayBuffer;
  readonly out: SharedArrayBuffer;
}

/** Idle job buffers kept for reuse (about one per job in flight is what a busy gateway needs). */
const MAX_FREE_BUFFERS = 8;

/** After this many workers died or failed to start, the pool offers none (callers score in their own thread). */
const MAX_FAILURES = 3;

interface PoolWorker {
  readonly worker: Worker;
  readonly pending: Map<number, { resolve: () => void; reject: (err: Error) => void }>;
  /** Models this worker has been sent. */
  readonly models: Set<number>;
  dead: boolean;
}

export class ScoringPool {
  private readonly workers: PoolWorker[] = [];
  private readonly modelIds = new WeakMap<PackedModel, number>();
  private readonly models = new Map<number, PackedModel>();
  private nextModel = 1;
  private nextJob = 1;
  private failures = 0;
  private size: number;
  private readonly freeBuffers: JobBuffers[] = [];

  constructor(size: number) {
    this.size = size;
  }

  /** Whether jobs can be offered to workers (false when sized 0 or after repeated worker failures). */
  get available(): boolean {
    return this.size > 0 && this.failures < MAX_FAILURES;
  }

  /** Grows the pool to at least `size` workers (started when first needed). */
  ensureSize(size: number): void {
    this.size = Math.max(this.size, size);
  }

  /** The id a model's jobs name; the model is sent to each worker before its first job. */
  private modelId(packed: PackedModel): number {
    let id = this.modelIds.get(packed);
    if (id === undefined) {
      id = this.nextModel++;
      this.modelIds.set(packed, id);
      this.models.set(id, packed);
    }
    return id;
  }

  /** Forgets a model (its ranker was replaced): workers drop their reference to it. */
  release(packed: PackedModel): void {
    const id = this.modelIds.get(packed);
    if (id === undefined) return;
    this.modelIds.delete(packed);
    this.models.delete(id);
    for (const w of this.workers) {
      if (w.models.delete(id) && !w.dead) w.worker.postMessage({ type: 'drop', id });
    }
  }

  /**
   * Margins of `rows` rows (row-major, `packed.width` values each, NaN = missing), computed by a worker: the same
   * values `predictMargins` returns. Rejects when the worker fails; the caller then scores in its own thread.
   */
  async score(packed: PackedModel, values: Float64Array | Float32Array, rows: number): Promise<Float64Array> {
    const w = this.pick();
    const model = this.modelId(packed);
    if (!w.models.has(model)) {
      w.worker.postMessage({ type: 'model', id: model, packed });
      w.models.add(model);
    }
    const buffers = this.takeBuffers(values.length, rows);
    const x = new Float32Array(buffers.x, 0, values.length);
    // Setting float64 values into a Float32Array rounds each to the nearest float32, as xgboost's cast does.
    x.set(values);
    const out = new Float64Array(buffers.out, 0, rows);
    const job = this.nextJob++;
    try {
      await new Promise<void>((resolve, reject) => {
        w.pending.set(job, { resolve, reject });
        if (w.pending.size === 1) w.worker.ref();
        const message: JobMessage = { type: 'score', job, model, x, out, rows };
        w.worker.postMessage(message);
      });
      // A plain copy: callers get an ordinary array, not a view of memory a worker writes.
      return out.slice();
    } finally {
      // A failed job's worker is gone (terminated), so its buffers are free to reuse too.
      this.freeBuffers.push(buffers);
    }
  }

  /**
   * Shared buffers for one job, reused across jobs: a fresh pair per request would be external memory the size of
   * the batch (rows x features x 4 bytes, and 8 a row for the margins) each time, which makes V8 collect its
   * (corpus-sized) heap more often.
   */
  private takeBuffers(values: number, rows: number): JobBuffers {
    const i = this.freeBuffers.findIndex((b) => b.x.byteLength >= values * 4 && b.out.byteLength >= rows * 8);
    if (i >= 0) return this.freeBuffers.splice(i, 1)[0]!;
    // Room to grow: the next, slightly larger batch fits too. Too many idle pairs are not kept.
    if (this.freeBuffers.length >= MAX_FREE_BUFFERS) this.freeBuffers.shift();
    return { x: new SharedArrayBuffer(Math.max(4, Math.ceil(values * 1.25) * 4)), out: new SharedArrayBuffer(Math.max(8, Math.ceil(rows * 1.25) * 8)) };
  }

  /** Stops every worker; jobs still running reject. */
  async close(): Promise<void> {
    const all = this.workers.splice(0);
    await Promise.all(all.map((w) => this.retire(w, new Error('scoring pool closed'))));
  }

  /** The live worker with the fewest jobs, starting one while the pool is below its size. */
  private pick(): PoolWorker {
    const live = this.workers.filter((w) => !w.dead);
    let best: PoolWorker | undefined;
    for (const w of live) if (!best || w.pending.size < best.pending.size) best = w;
    if ((!best || best.pending.size > 0) && live.length < this.size) return this.start();
    return best ?? this.start();
  }

  private start(): PoolWorker {
    const worker = new Worker(WORKER_SOURCE, { eval: true, name: 'xgboost-scorer' });
    // Idle workers never keep the process alive; a worker with jobs does (see `score`).
    worker.unref();
    const w: PoolWorker = { worker, pending: new Map(), models: new Set(), dead: false };
    worker.on('message', (reply: WorkerReply) => {
      const p = w.pending.get(reply.job);
      if (!p) return;
      w.pending.delete(reply.job);
      if (w.pending.size === 0) worker.unref();
      if (reply.error === undefined) p.resolve();
      else p.reject(new Error(`scoring worker: ${reply.error}`));
    });
    const fail = (err: Error) => {
      if (w.dead) return;
      this.failures++;
      void this.retire(w, err);
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`scoring worker exited (code ${code})`)));
    this.workers.push(w);
    return w;
  }

  private async retire(w: PoolWorker, err: Error): Promise<void> {
    w.dead = true;
    const i = this.workers.indexOf(w);
    if (i >= 0) this.workers.splice(i, 1);
    for (const p of w.pending.values()) p.reject(err);
    w.pending.clear();
    await w.worker.terminate().catch(() => undefined);
  }
}

/**
 * Workers the xgboost rankers use by default: one when the machine has a core to spare for it (the event loop keeps
 * the other), none on a single core, where a worker would only add hand-offs.
 */
export const DEFAULT_SCORING_WORKERS = availableParallelism() >= 2 ? 1 : 0;

let shared: ScoringPool | null = null;

/** The process' scoring pool, grown to at least `size` workers; null when `size` is 0. */
export function scoringPool(size: number): ScoringPool | null {
  if (size <= 0) return null;
  if (!shared) shared = new ScoringPool(size);
  else shared.ensureSize(size);
  return shared;
}
