import { LRUCache } from 'lru-cache';
import type { Community, DatasetInfo, Post } from '../content';
import { EmbeddedViewerState } from './embedded-viewers';
import { MemoryFeatureLog } from './memory-feature-log';
import { PostTable, PostTableBuilder } from './post-table';
import type { FeatureLogStore, IndexEntry, SeedData, Store, StoreHealth, StoreStats, ViewerStateLimits, ViewerStateStore } from './store';

export interface EmbeddedStoreOptions {
  /**
   * Upper bound on the bytes of ranked snapshots kept in memory; the least recently used go first.
   * @default 256 MiB
   */
  readonly maxSnapshotBytes?: number;
  /** How much seen state is kept per viewer. @default DEFAULT_VIEWER_STATE_LIMITS */
  readonly viewerState?: ViewerStateLimits;
}

// Ties go in reverse id order, as Redis's ZREVRANGE orders equal scores, so both backends page identically.
const byScoreDesc = (a: IndexEntry, b: IndexEntry) => b.score - a.score || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

/**
 * The in-process backend: the default when REDIS_URL is unset. Async only to share the `Store` contract.
 *
 * Posts and index members are kept in a `PostTable` (columns, not an object per post: see there for why), so a read
 * builds the posts it returns; what is derived from a post is kept by its row (see `postFeatureRow`).
 */
export class EmbeddedStore implements Store {
  readonly kind = 'embedded' as const;
  private table = new PostTableBuilder(0).finish();
  private communities = new Map<string, Community>();
  private communityList: Community[] = [];
  /** Each index as key numbers of `table` sorted by score, highest first, with their scores (kept for export). */
  private indexes = new Map<string, { keys: Int32Array; scores: Float64Array }>();
  private info: DatasetInfo | null = null;
  private readonly snapshots: LRUCache<string, Uint8Array>;
  readonly viewers: ViewerStateStore;
  readonly featureLog: FeatureLogStore = new MemoryFeatureLog();

  constructor(opts: EmbeddedStoreOptions = {}) {
    this.viewers = new EmbeddedViewerState(opts.viewerState);
    this.snapshots = new LRUCache<string, Uint8Array>({
      maxSize: opts.maxSnapshotBytes ?? 256 * 1024 * 1024,
      sizeCalculation: (v) => Math.max(1, v.byteLength),
      ttlAutopurge: false,
    });
  }

  async getPosts(ids: readonly string[]): Promise<(Post | null)[]> {
    return ids.map((id) => this.table.get(id));
  }

  peekPost(id: string): Post | null {
    return this.table.get(id);
  }

  async getCommunities(names: readonly string[]): Promise<(Community | null)[]> {
    return names.map((n) => this.communities.get(n) ?? null);
  }

  async listCommunities(): Promise<Community[]> {
    return this.communityList.slice();
  }

  async readIndexes(names: readonly string[], limit: number): Promise<string[][]> {
    return names.map((n) => {
      const keys = this.indexes.get(n)?.keys;
      const ids: string[] = [];
      if (!keys) return ids;
      // A loop: Array.from with a mapping function goes through the iterator protocol and a call per id, on every
      // cold request.
      for (let i = 0, end = Math.min(keys.length, Math.max(0, limit)); i < end; i++) ids.push(this.table.key(keys[i]!));
      return ids;
    });
  }

  async getSnapshot(key: string): Promise<Uint8Array | null> {
    return this.snapshots.get(key) ?? null;
  }

  async putSnapshot(key: string, bytes: Uint8Array, ttlSeconds: number): Promise<void> {
    // msgpackr hands out views into a large buffer it keeps filling; kept as is, each view would hold that whole
    // buffer alive while the LRU counted only the view's bytes (the bench's memory scenario grew without bound).
    // An exact copy makes the LRU's byte budget the memory it really holds.
    const owned = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
    this.snapshots.set(key, owned, { ttl: ttlSeconds * 1000 });
  }

  async datasetInfo(): Promise<DatasetInfo | null> {
    return this.info;
  }

  async seed(data: SeedData): Promise<void> {
    const builder = new PostTableBuilder(data.posts.length);
    for (const p of data.posts) builder.addPost(p);
    const communities = new Map<string, Community>();
    for (const c of data.communities) communities.set(c.name, c);
    const indexes = new Map<string, { keys: Int32Array; scores: Float64Array }>();
    for (const [name, entries] of data.indexes) {
      const sorted = [...entries].sort(byScoreDesc);
      const keys = new Int32Array(sorted.length);
      const scores = new Float64Array(sorted.length);
      // A plain loop: `Int32Array.from` with a mapping function goes through the iterator protocol (a result object
      // per entry) and a call per entry, over millions of entries.
      for (let i = 0; i < sorted.length; i++) {
        keys[i] = builder.key(sorted[i]!.id);
        scores[i] = sorted[i]!.score;
      }
      indexes.set(name, { keys, scores });
    }
    // Swap everything at once so a concurrent reader sees either the old content or the new, never a mix.
    this.table = builder.finish();
    this.communities = communities;
    this.communityList = [...communities.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    this.indexes = indexes;
    this.info = data.info;
  }

  /**
   * The content as seed data, equal to what it was seeded with (indexes highest first): the Redis store re-seeds an
   * emptied Redis from its in-process replica with it.
   */
  exportSeed(): SeedData | null {
    if (!this.info) return null;
    const indexes = new Map<string, IndexEntry[]>();
    for (const [name, { keys, scores }] of this.indexes) indexes.set(name, Array.from(keys, (k, i) => ({ id: this.table.key(k), score: scores[i]! })));
    const posts: Post[] = [];
    for (let row = 0; row < this.table.size; row++) posts.push(this.table.post(row));
    return { info: this.info, posts, communities: this.communityList.slice(), indexes };
  }

  /** The posts as a table: the features layer keeps what it derives from them by row (`keepPostFeatures`). */
  postTable(): PostTable {
    return this.table;
  }

  health(): StoreHealth {
    return { degraded: false };
  }

  stats(): StoreStats {
    return { roundTrips: 0, roundTripsByCommand: {}, featureIndex: { hits: 0, misses: 0, size: 0 }, decodeErrors: 0, replicaReads: 0 };
  }

  async close(): Promise<void> {
    this.snapshots.clear();
  }
}
