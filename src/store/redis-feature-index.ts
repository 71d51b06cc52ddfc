import { LRUCache } from 'lru-cache';
import type { Community, Post } from '../content';
import type { RedisClient } from './connection';
import { postShard, type KeyLayout } from './keys';
import { packr, tableOf, unpackPost, type CommunityTable } from './redis-content';

/**
 * The Redis store's in-process feature index. Posts read from Redis are kept in a bounded LRU with a TTL; a batch
 * asks Redis only for the posts the LRU lacks, in one round trip. The community table is small (one entry per
 * community) and is kept whole, loaded at connect and refreshed in the background when its TTL passes, so communities
 * never cost a round trip on a request. Content never changes under a fingerprint, so neither can serve stale data;
 * the TTL bounds how long a post read once stays in memory. A stored item that does not decode reads as absent,
 * never failing its batch.
 */
export class RedisFeatureIndex {
  private readonly posts: LRUCache<string, Post> | null;
  private table: CommunityTable | null = null;
  private tableLoading: Promise<CommunityTable> | null = null;
  hits = 0;
  misses = 0;
  decodeErrors = 0;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: KeyLayout,
    /** The fingerprint of the content being served (what may be kept). */
    private readonly serving: () => string | null,
    opts: { readonly maxPosts?: number; readonly ttlMs?: number } = {},
  ) {
    const maxPosts = opts.maxPosts ?? 100_000;
    this.ttlMs = opts.ttlMs ?? 600_000;
    this.posts = maxPosts > 0 ? new LRUCache<string, Post>({ max: maxPosts, ttl: this.ttlMs, ttlAutopurge: false }) : null;
  }

  private readonly ttlMs: number;

  get size(): number {
    return this.posts?.size ?? 0;
  }

  /** Forgets the posts (the community table stays). */
  dropPosts(): void {
    this.posts?.clear();
  }

  /** The served content changed: nothing kept applies any more. */
  reset(): void {
    this.posts?.clear();
    this.table = null;
  }

  /** Keeps a table made from seed data (no read needed). */
  keepTable(table: CommunityTable): void {
    this.table = table;
  }

  /**
   * Posts by id, same length and order as `ids`: those kept here at once, the rest through `fetch` (called once,
   * with each missing id once, or not at all).
   */
  async getPosts(ids: readonly string[], fetch: (missing: string[]) => Promise<(Post | null)[]>): Promise<(Post | null)[]> {
    const out: (Post | null)[] = new Array<Post | null>(ids.length).fill(null);
    const wanted = new Map<string, number[]>();
    ids.forEach((id, i) => {
      const hit = this.posts?.get(id);
      if (hit) {
        this.hits++;
        out[i] = hit;
        return;
      }
      const at = wanted.get(id);
      if (at) at.push(i);
      else wanted.set(id, [i]);
    });
    if (wanted.size === 0) return out;
    const missing = [...wanted.keys()];
    this.misses += missing.length;
    const found = await fetch(missing);
    missing.forEach((id, j) => {
      for (const i of wanted.get(id)!) out[i] = found[j] ?? null;
    });
    return out;
  }

  /** One MGET per post shard, all issued in this turn: the client sends them as one pipeline per node. */
  async fetchPosts(fp: string, ids: readonly string[]): Promise<(Post | null)[]> {
    const byShard = new Map<number, number[]>();
    ids.forEach((id, i) => {
      const s = postShard(id);
      const list = byShard.get(s);
      if (list) list.push(i);
      else byShard.set(s, [i]);
    });
    const out: (Post | null)[] = new Array<Post | null>(ids.length).fill(null);
    const cacheable = this.serving() === fp;
    await Promise.all(
      [...byShard.values()].map(async (positions) => {
        const bufs = await this.redis.mgetBuffer(positions.map((i) => this.keys.post(fp, ids[i]!)));
        positions.forEach((i, j) => {
          const buf = bufs[j];
          if (!buf) return;
          try {
            const post = unpackPost(ids[i]!, buf);
            out[i] = post;
            if (cacheable) this.posts?.set(post.id, post);
          } catch {
            this.decodeErrors++;
          }
        });
      }),
    );
    return out;
  }

  async communityTable(fp: string): Promise<CommunityTable> {
    const t = this.table;
    if (t && t.fingerprint === fp) {
      // Past its TTL: answer with it (content under a fingerprint never changes) and refresh it off the request path.
      if (Date.now() - t.loadedAt > this.ttlMs && !this.tableLoading) void this.loadTable(fp).catch(() => {});
      return t;
    }
    return this.loadTable(fp);
  }

  loadTable(fp: string): Promise<CommunityTable> {
    this.tableLoading ??= (async () => {
      const buf = await this.redis.getBuffer(this.keys.communities(fp));
      let list: Community[] = [];
      try {
        const decoded = buf ? (packr.unpack(buf) as unknown) : [];
        if (!Array.isArray(decoded)) throw new Error('not a list');
        list = decoded as Community[];
      } catch {
        this.decodeErrors++;
      }
      const table = tableOf(fp, list);
      if (this.serving() === fp && (buf || !this.table)) this.table = table;
      return table;
    })().finally(() => (this.tableLoading = null));
    return this.tableLoading;
  }
}
