import { randomBytes } from 'node:crypto';
import { Packr } from 'msgpackr';
import type { Store } from '../store/store';
import { withSpan } from '../telemetry/tracing';

/**
 * A ranked list frozen for paging. Every page of one feed request is cut from the same snapshot, so a client paging
 * through sees no repeats and no gaps even while the content or the model changes underneath.
 */
export interface Snapshot {
  /** Identifies this generation of the list: a cursor from an earlier generation is CURSOR_EXPIRED, not wrong data. */
  readonly generation: string;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
  readonly rankerId: string;
  readonly rankerVersion: string;
  readonly ids: readonly string[];
  readonly scores: readonly number[];
}

const packr = new Packr({ useRecords: false });
const FORMAT = 1;

/** Keeps snapshots in the store (Redis or embedded) as compact msgpack, with a TTL. */
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
      const decoded = packr.unpack(bytes) as [number, string, number, string, string, string[], number[]];
      // An entry written by another format version is treated as a miss rather than misread.
      if (!Array.isArray(decoded) || decoded[0] !== FORMAT) return null;
      const [, generation, createdAt, rankerId, rankerVersion, ids, scores] = decoded;
      return { generation, createdAt, rankerId, rankerVersion, ids, scores };
    });
  }

  put(key: string, s: Snapshot): Promise<void> {
    return withSpan('cache.put', { 'cache.backend': this.store.kind, 'snapshot.items': s.ids.length }, async () => {
      const bytes = packr.pack([FORMAT, s.generation, s.createdAt, s.rankerId, s.rankerVersion, s.ids, s.scores]);
      await this.store.putSnapshot(key, bytes, this.ttlSeconds);
    });
  }
}
