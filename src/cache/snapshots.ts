import { randomBytes } from 'node:crypto';
import { Packr } from 'msgpackr';
import type { Store } from '../store/store';
import { withSpan } from '../telemetry/tracing';
import { floatBytes, floatsOf, joinColumn, splitColumn } from './columns';

/**
 * A ranked list frozen for paging. Every page of one feed request is cut from the same snapshot, so a client paging
 * through sees no repeats and no gaps even while the content or the model changes underneath.
 */
export interface Snapshot {
  /** Identifies this generation of the list: a cursor from an earlier generation is CURSOR_EXPIRED, not wrong data. */
  readonly generation: string;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
  /** The ranker that actually ranked the list (the fallback, when the requested variant failed). */
  readonly servedBy: string;
  readonly servedByVersion: string;
  /** The variant that was asked for but failed, when a fallback served. */
  readonly fallbackFrom: string | null;
  readonly fallbackReason: string | null;
  readonly ids: readonly string[];
  readonly scores: readonly number[];
  /** For an interleaved list: the ranker id that contributed each item (same order as `ids`). */
  readonly teams: readonly string[] | null;
  /** Sources that failed or timed out while the underlying list was built. */
  readonly degraded: readonly { readonly source: string; readonly reason: string }[];
  /** Counts per stage, for the MLE's funnel (JSON-safe). */
  readonly funnel: unknown;
}

const packr = new Packr({ useRecords: false });
/** Bump when the tuple below changes: entries of another format read as misses rather than being misread. */
const FORMAT = 4;

/** The ids as one joined column (src/cache/columns.ts), or as an array when they cannot be joined; scores as float64 bytes. */
type Encoded = [number, string, number, string, string, string | null, string | null, string | string[], Uint8Array, string[] | null, Snapshot['degraded'], unknown, number];

/** Keeps snapshots in the store (Redis or embedded) as compact msgpack tuples, with a TTL. */
export class SnapshotCache {
  constructor(
    private readonly store: Store,
    private readonly ttlSeconds: number,
  ) {}

  static newGeneration(): string {
    return randomBytes(6).toString('base64url');
  }

  get(key: string): Promise<Snapshot | null> {
    return withSpan('cache.get', { 'cache.backend': this.store.kind }, async (span) => {
      const bytes = await this.store.getSnapshot(key);
      span.setAttribute('cache.hit', bytes !== null);
      if (!bytes) return null;
      const decoded = packr.unpack(bytes) as Encoded;
      if (!Array.isArray(decoded) || decoded[0] !== FORMAT) return null;
      const [, generation, createdAt, servedBy, servedByVersion, fallbackFrom, fallbackReason, idColumn, scoreBytes, teams, degraded, funnel, count] = decoded;
      const ids = typeof idColumn === 'string' ? splitColumn(idColumn, count) : idColumn;
      const scores = floatsOf(scoreBytes);
      if (ids.length !== count || scores.length !== count) return null;
      return { generation, createdAt, servedBy, servedByVersion, fallbackFrom, fallbackReason, ids, scores, teams, degraded, funnel };
    });
  }

  /** Stores a snapshot; `ttlSeconds` overrides the default (a fallback-served list is kept only briefly). */
  put(key: string, s: Snapshot, ttlSeconds = this.ttlSeconds): Promise<void> {
    return withSpan('cache.put', { 'cache.backend': this.store.kind, 'snapshot.items': s.ids.length }, async () => {
      const ids = joinColumn(s.ids) ?? [...s.ids];
      const encoded: Encoded = [FORMAT, s.generation, s.createdAt, s.servedBy, s.servedByVersion, s.fallbackFrom, s.fallbackReason, ids, floatBytes(s.scores), s.teams ? [...s.teams] : null, [...s.degraded], s.funnel, s.ids.length];
      await this.store.putSnapshot(key, packr.pack(encoded), ttlSeconds);
    });
  }
}
