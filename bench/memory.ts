/**
 * Memory (issue 6, scenario 5): the gateway's resident size after it has loaded its data set, after a warm-up in
 * which every viewer of the mix has been served, and after 100,000 requests more; from warm to the end it must not
 * grow by more than 10%. Run by `npm run bench` against each backend's gateway process, before the latency
 * scenarios, so that "after loading" is the process as it starts serving.
 *
 * Why from warm: between loading and the first passes over 1,000 viewers the bounded caches fill (each viewer's scored
 * list and session snapshot, replayed responses, the in-process feature log), by design and up to their caps, and V8
 * sizes its heap for the load (see `MEMORY_WARMUP`); the table prints that step too. A leak is memory that keeps
 * growing once the process has settled.
 *
 * How it is read: a garbage-collected process's resident size at any one instant swings by tens of MiB with where
 * the collector is in its cycle (young generation full or just emptied, buffers awaiting a major GC). So each point
 * is the high-water mark of the resident size sampled every 100 ms over the same number of requests (the last
 * `WINDOW` of the warm-up, the last `WINDOW` of the run): the envelope, compared like with like.
 *
 * The requests (autocannon, 4 connections) are a mix over 1,000 viewers: each viewer's home page again and again (the
 * first ranks a feed, later ones are sessions and replays) and one request in fifty a `refresh: true`, which builds a
 * new session every time (filters, diversity, a new snapshot, more seen posts), so snapshots, seen sets, replayed
 * responses and the feature log all keep changing as they would in service. Every response must be a 200 without
 * errors.
 */
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import type { TokenService } from '../src/auth/tokens';

export interface MemoryReport {
  readonly requests: number;
  readonly failures: number;
  readonly seconds: number;
  /**
   * Resident set size in bytes: as it started serving, then the high-water mark over the last `window` requests of
   * the warm-up and over the last `window` requests of the run.
   */
  readonly rssAfterLoad: number;
  readonly warmupRequests: number;
  readonly rssAfterWarmup: number;
  readonly rssAfterRequests: number;
  readonly window: number;
  /** (after requests - after warm-up) / after warm-up: the needed value is at most 0.1. */
  readonly growth: number;
  readonly holds: boolean;
}

/** The resident size of `pid` in bytes (Linux /proc). */
export function residentBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1]);
  if (!Number.isFinite(kb)) throw new Error(`no VmRSS for pid ${pid}`);
  return kb * 1024;
}

const HOME = 'query Home($refresh: Boolean) { personalizedFeed(first: 25, refresh: $refresh) { edges { cursor rank score node { id title url score numComments createdAt community { name } } } pageInfo { hasNextPage endCursor } } }';
const VIEWERS = 1000;
export const MEMORY_REQUESTS = 100_000;
/**
 * Requests before the first mark. Not only the caches: V8 grows its heap reservation in steps as it learns the
 * allocation rate, and the resident size keeps rising for the first tens of thousands of requests of this mix before
 * it levels out. A warm-up that ends sooner counts that levelling-out as growth, as shorter warm-ups here did; one
 * that ends after it leaves only growth that goes on, a leak. The memory table prints every mark, so a run shows
 * whether the process had levelled out.
 */
export const MEMORY_WARMUP = 40_000;
/** Requests over which each high-water mark is read. */
const WINDOW = 5_000;

export async function memoryScenario(port: number, pid: number, rssAfterLoad: number, tokens: TokenService, opts: { requests?: number; warmup?: number } = {}): Promise<MemoryReport> {
  const requests = opts.requests ?? MEMORY_REQUESTS;
  const warmup = opts.warmup ?? MEMORY_WARMUP;
  const headersOf = await Promise.all(
    Array.from({ length: VIEWERS }, async (_, i) => ({
      'content-type': 'application/json',
      accept: 'application/json',
      authorization: `Bearer ${await tokens.sign(`memory-viewer-${i}`)}`,
    })),
  );
  const plain = JSON.stringify({ query: HOME, variables: { refresh: false } });
  const refresh = JSON.stringify({ query: HOME, variables: { refresh: true } });
  let n = 0;
  let failures = 0;
  const run = async (amount: number) => {
    if (amount <= 0) return 0;
    const result = await autocannon({
      url: `http://127.0.0.1:${port}`,
      connections: 4,
      amount,
      timeout: 10,
      requests: [
        {
          method: 'POST',
          path: '/graphql',
          setupRequest: (req) => {
            const i = n++;
            return { ...req, headers: headersOf[i % VIEWERS]!, body: i % 50 === 49 ? refresh : plain };
          },
          onResponse: (status, body) => {
            if (status !== 200 || body.includes('"errors"')) failures++;
          },
        },
      ],
    });
    failures += result.errors + result.timeouts;
    return result['2xx'] + result.non2xx;
  };
  /** Runs `amount` requests, the last `window` of them while sampling the resident size; returns the count and the peak. */
  const runWithPeak = async (amount: number): Promise<{ done: number; peak: number }> => {
    const window = Math.min(WINDOW, amount);
    let done = await run(amount - window);
    let peak = residentBytes(pid);
    const sampler = setInterval(() => (peak = Math.max(peak, residentBytes(pid))), 100);
    try {
      done += await run(window);
    } finally {
      clearInterval(sampler);
    }
    return { done, peak: Math.max(peak, residentBytes(pid)) };
  };
  const warm = await runWithPeak(warmup);
  const started = Date.now();
  const end = await runWithPeak(requests);
  const seconds = (Date.now() - started) / 1000;
  const growth = (end.peak - warm.peak) / warm.peak;
  return {
    requests: end.done,
    failures,
    seconds,
    rssAfterLoad,
    warmupRequests: warm.done,
    rssAfterWarmup: warm.peak,
    rssAfterRequests: end.peak,
    window: Math.min(WINDOW, requests),
    growth,
    holds: growth <= 0.1 && failures === 0,
  };
}
