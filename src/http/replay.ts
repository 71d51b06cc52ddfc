import type { IncomingMessage, ServerResponse } from 'node:http';
import { LRUCache } from 'lru-cache';
import type { GatewayContext } from '../../resolvers/context';
import type { PageSession } from '../feed/page';
import type { Store } from '../store/store';
import type { RequestObserver } from '../telemetry/http';
import type { Logger } from '../telemetry/logger';
import type { Metrics } from '../telemetry/metrics';

/**
 * Replayed responses: the bytes of a feed response, kept so that the same request again (same URL, token, body,
 * Accept and Origin) is answered without GraphQL. A viewer's session of a feed answers the same page to the
 * same request until it is refreshed or expires (src/feed/service.ts), so the second and later identical requests
 * would compute exactly these bytes; only `extensions.requestId` (and `x-request-id`) differ, and are spliced in.
 *
 * An entry is replayed only while every session it was cut from is still this process's current one
 * (`isCurrent`) and was ranked over the content the store holds now (its fingerprint, checked by the server), before
 * the earliest session expiry and the bearer token's expiry, and for at most `ttlMs`. So a refresh, an expired
 * session, a reseed or a ranker reload here is seen at once. Another instance's refresh of the same
 * session (with Redis shared between instances) is seen after at most `ttlMs`: set RESPONSE_CACHE_TTL_MS to 0 to
 * turn replays off where that matters.
 *
 * What is cached: queries whose root fields are all feeds, served from an existing session (not a refresh, not a
 * fallback or degraded list, no errors). Mutations, other fields and anything with an error always run.
 */
export interface ReplayEntry {
  /** The response body up to the request id, and after it. */
  readonly head: Buffer;
  readonly tail: Buffer;
  /** Response headers to send again (content type, CORS), without the per-request ones. */
  readonly headers: Readonly<Record<string, string>>;
  readonly sessions: readonly PageSession[];
  /** Milliseconds since the epoch after which the entry is not replayed. */
  readonly expiresAt: number;
  /** What the request log and metrics say about the operation. */
  readonly operation: { readonly name: string; readonly type: string; readonly rootFields: string };
}

export interface ResponseCacheOptions {
  /** Memory the entries may take; 0 disables the cache. */
  readonly maxBytes: number;
  /** Longest an entry is replayed; 0 disables the cache. */
  readonly ttlMs: number;
  /** Whether a session generation is still current in this process. */
  readonly isCurrent: (key: string, generation: string) => boolean;
}

/** Request headers that change the response and so belong to the key. */
const KEYED_HEADERS = ['authorization', 'accept', 'origin'] as const;

/** Response headers that are per request or recomputed on send. */
const UNCACHED_HEADERS = new Set(['x-request-id', 'content-length', 'date', 'connection', 'keep-alive', 'transfer-encoding']);

export class ResponseCache {
  private readonly entries: LRUCache<string, ReplayEntry> | null;

  constructor(private readonly opts: ResponseCacheOptions) {
    this.entries =
      opts.maxBytes > 0 && opts.ttlMs > 0
        ? new LRUCache<string, ReplayEntry>({
            maxSize: opts.maxBytes,
            sizeCalculation: (e, key) => key.length + e.head.length + e.tail.length + 256,
          })
        : null;
  }

  get enabled(): boolean {
    return this.entries !== null;
  }

  /** The cache key of a POST: its URL, the headers that shape the answer, and the body's exact bytes. */
  keyOf(req: IncomingMessage, body: Buffer): string | null {
    if (!this.entries || body.length === 0) return null;
    let key = `${req.url ?? ''}\n`;
    for (const h of KEYED_HEADERS) {
      const v = req.headers[h];
      key += `${typeof v === 'string' ? v : ''}\n`;
    }
    return key + body.toString('latin1');
  }

  /** The entry for `key` if it may still be replayed now; a stale one is dropped. */
  get(key: string, now = Date.now()): ReplayEntry | undefined {
    const entry = this.entries?.get(key);
    if (!entry) return undefined;
    if (now >= entry.expiresAt || !entry.sessions.every((s) => this.opts.isCurrent(s.key, s.generation))) {
      this.entries!.delete(key);
      return undefined;
    }
    return entry;
  }

  /**
   * Keeps a response for replay. `body` holds `requestId` exactly once (in `extensions.requestId`); without it, or
   * without sessions, nothing is kept. `tokenExpiresAt` bounds the entry by the bearer token's own expiry.
   */
  set(
    key: string,
    response: { body: Buffer; requestId: string; headers: Record<string, unknown>; sessions: readonly PageSession[]; tokenExpiresAt: number | null; operation: ReplayEntry['operation'] },
    now = Date.now(),
  ): boolean {
    if (!this.entries || response.sessions.length === 0) return false;
    const at = response.body.indexOf(response.requestId, 0, 'latin1');
    if (at < 0 || response.body.indexOf(response.requestId, at + 1, 'latin1') >= 0) return false;
    const expiresAt = Math.min(now + this.opts.ttlMs, ...response.sessions.map((s) => s.expiresAt), response.tokenExpiresAt ?? Infinity);
    if (expiresAt <= now) return false;
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(response.headers)) {
      if (!UNCACHED_HEADERS.has(name) && (typeof value === 'string' || typeof value === 'number')) headers[name] = String(value);
    }
    this.entries.set(key, {
      head: response.body.subarray(0, at),
      tail: response.body.subarray(at + Buffer.byteLength(response.requestId)),
      headers,
      sessions: response.sessions,
      expiresAt,
      operation: response.operation,
    });
    return true;
  }

  delete(key: string): void {
    this.entries?.delete(key);
  }

  /** Forgets every entry (a ranker reload changes what a feed would answer). */
  clear(): void {
    this.entries?.clear();
  }

  get size(): number {
    return this.entries?.size ?? 0;
  }
}


/**
 * What the GraphQL side of a request tells the replay capture: its context (set by the server's context factory),
 * and its token's expiry once the token has been read.
 */
export interface ReplayCapture {
  context: GatewayContext | null;
  tokenExpiresAt: number | null | undefined;
}

export interface ReplayerDeps {
  readonly cache: ResponseCache;
  readonly store: Store;
  readonly metrics: Metrics;
  readonly observer: RequestObserver;
  readonly logger: Logger;
  /**
   * Root fields whose answers can be replayed: the feeds (fields of type FeedConnection), which answer the same page
   * until their session changes, and `__typename`.
   */
  readonly replayableRootFields: ReadonlySet<string>;
}

/**
 * The HTTP side of replays: answers a request from a kept response when it may (`serve`), else lets GraphQL run and
 * keeps what it sends when that is a replayable feed answer.
 */
export class Replayer {
  private readonly captures = new WeakMap<IncomingMessage, ReplayCapture>();

  constructor(private readonly deps: ReplayerDeps) {}

  /** The capture of a request GraphQL is running, for the context factory to fill in. */
  captureOf(req: IncomingMessage): ReplayCapture | undefined {
    return this.captures.get(req);
  }

  /** Forgets every kept response (a ranker reload changes what a feed would answer). */
  clear(): void {
    this.deps.cache.clear();
  }

  /** Replays the answer to `req` (whose body is `body`) when one may be replayed; otherwise calls `runGraphQL`. */
  serve(req: IncomingMessage, res: ServerResponse, body: Buffer, runGraphQL: () => void): void {
    const { cache, store, metrics } = this.deps;
    const key = cache.keyOf(req, body);
    if (key === null) {
      runGraphQL();
      return;
    }
    const miss = () => {
      metrics.cacheLookups.inc({ cache: 'responses', result: 'miss' });
      this.capture(req, res, key);
      runGraphQL();
    };
    // A replay needs the store as healthy as when the response was made (a degraded store changes the answer).
    const hit = store.health().degraded ? undefined : cache.get(key);
    if (!hit) {
      miss();
      return;
    }
    // ...and the same content: a reseed with other data changes every feed (read from memory, no round trip).
    void store.datasetInfo().then(
      (info) => {
        if (hit.sessions.every((s) => s.fingerprint === (info?.fingerprint ?? ''))) {
          metrics.cacheLookups.inc({ cache: 'responses', result: 'hit' });
          this.replay(req, res, hit);
          return;
        }
        cache.delete(key);
        miss();
      },
      () => runGraphQL(),
    );
  }

  private replay(req: IncomingMessage, res: ServerResponse, hit: ReplayEntry): void {
    const requestId = this.deps.observer.replayed(req, hit.operation);
    for (const s of hit.sessions) if (s.exposure) this.deps.metrics.experimentExposures.inc(s.exposure);
    const id = Buffer.from(requestId, 'latin1');
    res.writeHead(200, { ...hit.headers, 'x-request-id': requestId, 'content-length': hit.head.length + id.length + hit.tail.length });
    // Corked: the headers and the three pieces leave in one writev (end() uncorks), without copying the body.
    res.cork();
    res.write(hit.head);
    res.write(id);
    res.end(hit.tail);
  }

  /** Keeps the response GraphQL sends (its writes, then its end), when it is a replayable feed answer. */
  private capture(req: IncomingMessage, res: ServerResponse, key: string): void {
    const capture: ReplayCapture = { context: null, tokenExpiresAt: undefined };
    this.captures.set(req, capture);
    const chunks: Buffer[] = [];
    let keepable = true;
    const collect = (chunk: unknown) => {
      if (chunk === null || chunk === undefined || typeof chunk === 'function') return;
      if (typeof chunk === 'string') chunks.push(Buffer.from(chunk));
      else if (chunk instanceof Uint8Array) chunks.push(Buffer.from(chunk)); // a copy: the stream may reuse the memory
      else keepable = false;
    };
    const write = res.write;
    const end = res.end;
    res.write = function writeAndKeep(this: ServerResponse, ...args: unknown[]) {
      if (keepable) collect(args[0]);
      return (write as (...a: unknown[]) => boolean).apply(this, args);
    } as ServerResponse['write'];
    res.end = ((...args: unknown[]) => {
      res.write = write;
      res.end = end;
      if (keepable) collect(args[0]);
      try {
        if (keepable) this.keep(req, res, key, capture, Buffer.concat(chunks));
      } catch (err) {
        this.deps.logger.warn({ err: (err as Error)?.message }, 'could not keep a response for replay');
      }
      return (end as (...a: unknown[]) => ServerResponse).apply(res, args);
    }) as ServerResponse['end'];
  }

  private keep(req: IncomingMessage, res: ServerResponse, key: string, capture: ReplayCapture, body: Buffer): void {
    const ctx = capture.context;
    if (res.statusCode !== 200 || !ctx || ctx.replay.blocked || ctx.replay.sessions.length === 0 || ctx.ranking.degraded.length > 0) return;
    // A token was sent but never read: its expiry is unknown, so the answer is not kept.
    if (req.headers.authorization !== undefined && capture.tokenExpiresAt === undefined) return;
    const op = this.deps.observer.operationOf(req);
    if (!op || op.type !== 'query' || op.errors > 0 || !op.rootFields.split(',').every((f) => this.deps.replayableRootFields.has(f))) return;
    this.deps.cache.set(key, {
      body,
      requestId: ctx.requestId,
      headers: res.getHeaders() as Record<string, unknown>,
      sessions: ctx.replay.sessions,
      tokenExpiresAt: capture.tokenExpiresAt ?? null,
      operation: { name: op.name, type: op.type, rootFields: op.rootFields },
    });
  }
}
