import type { IncomingMessage } from 'node:http';
import { LRUCache } from 'lru-cache';
import type { PageSession } from '../feed/service';

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
