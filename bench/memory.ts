/**
 * Memory (issue 6, scenario 5): the gateway's resident size after it has loaded its data set, after a warm-up in
 * which every viewer of the mix has been served, and after 100,000 requests more; from warm to the end it must not
 * grow by more than 10%. Run by `npm run bench` against each backend's gateway process, before the latency
 * scenarios, so that "after loading" is the process as it starts serving.
 *
 * Why from warm: between loading and the first pass over 1,000 viewers the bounded caches fill (each viewer's scored
 * list and session snapshot, replayed responses, the in-process feature log), by design and up to their caps; the
 * table prints that step too. A leak is memory that keeps growing once every viewer has been seen.
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
  /** Resident set size in bytes: as it started serving, after the warm-up, and after the requests. */
  readonly rssAfterLoad: number;
  readonly warmupRequests: number;
  readonly rssAfterWarmup: number;
  readonly rssAfterRequests: number;
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
export const MEMORY_WARMUP = 10_000;

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
  const warmed = await run(warmup);
  const rssAfterWarmup = residentBytes(pid);
  const started = Date.now();
  const done = await run(requests);
  const seconds = (Date.now() - started) / 1000;
  const rssAfterRequests = residentBytes(pid);
  const growth = (rssAfterRequests - rssAfterWarmup) / rssAfterWarmup;
  return { requests: done, failures, seconds, rssAfterLoad, warmupRequests: warmed, rssAfterWarmup, rssAfterRequests, growth, holds: growth <= 0.1 && failures === 0 };
}
