import type { Community, DatasetInfo, Post } from '../content';

/** A member of a sorted index with its sort score (higher first). */
export interface IndexEntry {
  readonly id: string;
  readonly score: number;
}

/** Everything the store is seeded with. Index names are opaque to the store (the candidate layer defines them). */
export interface SeedData {
  readonly info: DatasetInfo;
  readonly posts: readonly Post[];
  readonly communities: readonly Community[];
  /** Sorted indexes by name; entries in any order, the store keeps them by score, highest first. */
  readonly indexes: ReadonlyMap<string, readonly IndexEntry[]>;
}

/** Whether the store is serving as designed, or degraded (e.g. Redis is unreachable and reads come from memory). */
export interface StoreHealth {
  readonly degraded: boolean;
  /** Why it is degraded, in words fit for a log line or an answer's extensions (no keys, no user data). */
  readonly reason?: string;
  /** Since when (milliseconds since the epoch), while degraded. */
  readonly since?: number;
}

/** Counters for tests, the benchmark and metrics. */
export interface StoreStats {
  /**
   * Batches written to Redis sockets so far (one command or one pipeline each), counted at the connection; 0 for
   * the embedded store. The difference across a request is that request's round trips.
   */
  readonly roundTrips: number;
  /** `roundTrips` by the first command of each batch, for finding where a count comes from. */
  readonly roundTripsByCommand: Readonly<Record<string, number>>;
  /** In-process feature index: posts answered without Redis, posts read from Redis, posts it holds now. */
  readonly featureIndex: { readonly hits: number; readonly misses: number; readonly size: number };
  /** Stored items that could not be decoded (each read as absent instead of failing its batch). */
  readonly decodeErrors: number;
  /** Reads answered by the in-process replica because Redis was unavailable. */
  readonly replicaReads: number;
}

/** What a viewer has been shown, and the settings they chose: the state the session filters read. */
export interface ViewerStateStore {
  /** Post ids shown to (or reported seen by) the viewer, within the retention window. */
  seen(userId: string): Promise<Set<string>>;
  /** Records posts as seen. Keeps at most `maxSeen` per viewer (the most recent) for `seenTtlSeconds`. */
  addSeen(userId: string, postIds: readonly string[]): Promise<void>;
  /** The communities the viewer blocked, sorted by name. */
  blockedCommunities(userId: string): Promise<string[]>;
  /** Replaces the viewer's blocked communities (at most MAX_BLOCKED, duplicates dropped). */
  setBlockedCommunities(userId: string, names: readonly string[]): Promise<void>;
}

export interface ViewerStateLimits {
  /** Seen posts kept per viewer (the most recent). @default 2000 */
  readonly maxSeen: number;
  /** How long seen posts are remembered. @default 7 days */
  readonly seenTtlSeconds: number;
}

export const DEFAULT_VIEWER_STATE_LIMITS: ViewerStateLimits = { maxSeen: 2000, seenTtlSeconds: 7 * 24 * 3600 };

/** One served item as logged for training: what the ranker saw and said, where it was shown. */
export interface FeatureLogEntry {
  readonly requestId: string;
  readonly feed: string;
  readonly ranker: string;
  readonly rankerVersion: string;
  /** 1-based position in the ranked list. */
  readonly position: number;
  readonly postId: string;
  readonly score: number;
  /** Every registry feature's value (NaN when missing), in `features` order. */
  readonly values: readonly number[];
  readonly features: readonly string[];
  readonly at: number;
}

/**
 * The features and scores actually served, appended as pages go out (off the response path), so training uses the
 * values serving used: no training-serving skew from recomputing features offline.
 */
export interface FeatureLogStore {
  append(entries: readonly FeatureLogEntry[]): Promise<void>;
  /** Reads entries oldest first, `count` at a time after `cursor` (null: from the start). */
  read(cursor: string | null, count: number): Promise<{ entries: FeatureLogEntry[]; next: string | null }>;
}

/**
 * The one storage contract, with two backends: `EmbeddedStore` (in-process, the default) and `RedisStore` (ioredis).
 * The same contract tests run against both (test/integration/store.contract.test.ts).
 *
 * Batch contract, as DataLoader states it: every batch read returns an array of the same length and order as its
 * input, with `null` where a key is absent. A batch is one round trip to Redis however long it is.
 *
 * The store knows nothing of ranking or GraphQL: it keeps records, sorted indexes and opaque snapshot bytes.
 */
export interface Store {
  /** Which backend: for logs, spans and readiness only (nothing outside src/store/ branches on it). */
  readonly kind: 'embedded' | 'redis';

  /** Posts by id; same length and order as `ids`, null where unknown. One round trip. */
  getPosts(ids: readonly string[]): Promise<(Post | null)[]>;

  /**
   * A post by id answered in process, without I/O, or null where unknown; only a store that holds every post in
   * process has it (the embedded store). A request need not keep what such a store gave it: it can ask again.
   */
  peekPost?(id: string): Post | null;

  /** Communities by exact name; same length and order as `names`, null where unknown. One round trip. */
  getCommunities(names: readonly string[]): Promise<(Community | null)[]>;

  /** Every community, sorted by name. Small (one per community), so callers may cache it for the corpus' life. */
  listCommunities(): Promise<Community[]>;

  /**
   * The first `limit` ids of each named index, highest score first; an unknown index reads as empty.
   * Same length and order as `names`; one round trip for all of them.
   */
  readIndexes(names: readonly string[], limit: number): Promise<string[][]>;

  /** A snapshot's bytes, or null when absent or expired. */
  getSnapshot(key: string): Promise<Uint8Array | null>;

  /** Stores a snapshot for `ttlSeconds`, replacing any previous one under the key. */
  putSnapshot(key: string, bytes: Uint8Array, ttlSeconds: number): Promise<void>;

  /** What the store holds, or null when it was never seeded. */
  datasetInfo(): Promise<DatasetInfo | null>;

  /** Replaces the content (posts, communities, indexes) with `data`. Snapshots of earlier content become unreachable. */
  seed(data: SeedData): Promise<void>;

  /**
   * What each viewer was shown and chose. While the store is degraded, its calls fail at once with
   * SERVICE_UNAVAILABLE (the session filters then serve without them, and say so), as they do when Redis fails.
   */
  readonly viewers: ViewerStateStore;

  /** Served features and scores, for training. Fails as `viewers` does while the store is degraded. */
  readonly featureLog: FeatureLogStore;

  /** Degraded or not, and why: the feed service reports it in the answer. Cheap (no I/O); call it per request. */
  health(): StoreHealth;

  stats(): StoreStats;

  close(): Promise<void>;
}
