import { createHash } from 'node:crypto';

/**
 * Where the Redis store keeps what (P = key prefix, F = the dataset fingerprint, N = a post shard 0..POST_SHARDS-1):
 *
 *   P meta                      the DatasetInfo of the content being served (msgpack, with the layout FORMAT)
 *   P seed-lock                 held while one gateway re-seeds an emptied Redis, so the others do not all do it
 *   P {c:F}:communities         every community (msgpack list): read whole, it is smaller than one page of posts
 *   P {c:F}:idx:<name>          a sorted index (ZSET, member = post id, score = sort key)
 *   P {c:F:pN}:post:<id>        a post (msgpack tuple), N = fnv1a(id) mod POST_SHARDS
 *   P snap:<key>                a ranked snapshot or scored list (opaque bytes, with a TTL)
 *   P seen:<V>                  posts a viewer was shown (ZSET, member = post id, score = ms since the epoch), V =
 *                               a hash of the user id (user ids are arbitrary strings and never appear in keys)
 *   P blocked:<V>               communities a viewer blocked (SET)
 *   P featurelog                served features and scores (STREAM, capped with MAXLEN ~)
 *
 * Redis Cluster: a multi-key command (MGET) must stay within one slot and a pipeline within one node, so keys read
 * together share a hash tag (`{...}`):
 *   - the indexes and the community list share `{c:F}`: a home feed reads 5 to 20 community indexes and the global
 *     one in one pipeline, so they cannot be spread;
 *   - posts are spread over POST_SHARDS tags `{c:F:pN}`: they are most of the content and the read that grows with
 *     the candidates. The store sends one MGET per shard, all in one event-loop turn, and the client pipelines them
 *     per node: a read of 5,000 posts is one batch per node (one on a single Redis), whatever the count, and the nodes
 *     answer in parallel;
 *   - snapshots have no tag: each is read and written alone, so they spread over the whole cluster by key.
 *
 * Content lives under its fingerprint, so reseeding with other data never mixes two corpora: the new content is
 * written beside the old, `meta` flips to it in one SET, and the old content is then removed by SCAN (never KEYS).
 * Snapshot keys carry the fingerprint too (the feed service hashes it into them), so after a reseed no old snapshot
 * is ever read again and they simply expire: invalidation by versioned keys, no scan of snapshots needed.
 */

/** Bump when anything above changes: a Redis holding another format reads as empty and is re-seeded. */
export const FORMAT = 2;

/** Fixed: part of the stored format (a process reading with another count would look in the wrong shards). */
export const POST_SHARDS = 16;

/** FNV-1a over UTF-16 code units: fast, stable, and spreads short base-36 ids evenly. */
export function postShard(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % POST_SHARDS;
}

/** User ids are arbitrary strings: keys (and the embedded store's maps) carry a hash of them, never the id itself. */
export const viewerKey = (userId: string): string => createHash('sha256').update(userId).digest('base64url').slice(0, 22);

/** Escapes Redis glob metacharacters, so a prefix or fingerprint is matched literally by SCAN MATCH. */
const globEscape = (s: string) => s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);

export class KeyLayout {
  constructor(readonly prefix: string) {}

  meta(): string {
    return `${this.prefix}meta`;
  }

  seedLock(): string {
    return `${this.prefix}seed-lock`;
  }

  communities(fingerprint: string): string {
    return `${this.prefix}{c:${fingerprint}}:communities`;
  }

  index(fingerprint: string, name: string): string {
    return `${this.prefix}{c:${fingerprint}}:idx:${name}`;
  }

  post(fingerprint: string, id: string): string {
    return `${this.prefix}{c:${fingerprint}:p${postShard(id)}}:post:${id}`;
  }

  snapshot(key: string): string {
    return `${this.prefix}snap:${key}`;
  }

  seen(userId: string): string {
    return `${this.prefix}seen:${viewerKey(userId)}`;
  }

  blocked(userId: string): string {
    return `${this.prefix}blocked:${viewerKey(userId)}`;
  }

  featureLog(): string {
    return `${this.prefix}featurelog`;
  }

  /** A SCAN MATCH pattern for every content key of one fingerprint (both `{c:F}` and `{c:F:pN}`). */
  contentPattern(fingerprint: string): string {
    return `${globEscape(this.prefix)}{c:${globEscape(fingerprint)}[}:]*`;
  }

  /** Content keys of the first layout (`P c:F:...`), removed when a Redis of that format is re-seeded. */
  legacyContentPattern(): string {
    return `${globEscape(this.prefix)}c:*`;
  }
}
