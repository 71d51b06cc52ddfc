import { Cluster, type ChainableCommander, type Redis } from 'ioredis';
import { Packr } from 'msgpackr';
import type { Community, DatasetInfo, Post } from '../content';
import type { RedisClient } from './connection';
import { FORMAT, postShard, type KeyLayout } from './keys';
import type { SeedData } from './store';

/**
 * How the Redis store encodes content, and how it writes and removes a whole corpus. The key layout is in keys.ts.
 *
 * Posts are packed as positional tuples rather than maps: they leave out the field names a map repeats in every
 * post, and decoding a tuple is cheaper. The order is part of the stored format (keys.ts FORMAT).
 */
export const packr = new Packr({ useRecords: false });

type PostTuple = [string, string, string | null, string | null, number, number, number, number, number, string | null, boolean, boolean];

export const packPost = (p: Post): Buffer =>
  packr.pack([p.community, p.title, p.url, p.permalink, p.score, p.ups, p.downs, p.numComments, p.createdUtc, p.domain, p.over18, p.isSelf] satisfies PostTuple);

export function unpackPost(id: string, buf: Buffer): Post {
  const t = packr.unpack(buf) as unknown;
  if (!Array.isArray(t) || t.length !== 12 || typeof t[0] !== 'string' || typeof t[1] !== 'string') throw new Error('not a post tuple');
  const [community, title, url, permalink, score, ups, downs, numComments, createdUtc, domain, over18, isSelf] = t as PostTuple;
  return { id, community, title, url, permalink, score, ups, downs, numComments, createdUtc, domain, over18, isSelf };
}

/** What `meta` holds: the layout's format and the content being served. */
export interface Meta {
  readonly format: number;
  readonly info: DatasetInfo;
}

/** Every community, kept whole in process: it is smaller than one page of posts. */
export interface CommunityTable {
  readonly fingerprint: string;
  readonly list: Community[];
  readonly byName: ReadonlyMap<string, Community>;
  readonly loadedAt: number;
}

export function tableOf(fingerprint: string, communities: readonly Community[]): CommunityTable {
  const list = [...communities].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { fingerprint, list, byName: new Map(list.map((c) => [c.name, c])), loadedAt: Date.now() };
}

/**
 * Work per pipeline while seeding, counted in keys and sorted-set members: large enough to amortise round trips,
 * small enough that no single pipeline keeps Redis busy for long (others are being served meanwhile).
 */
const SEED_PIPELINE_WEIGHT = 20_000;
/** Members per ZADD while seeding. */
const ZADD_CHUNK = 1000;

/**
 * Writes one corpus beside whatever is there and then flips `meta` to it. Commands are grouped by hash tag, so every
 * pipeline stays within one slot (a cluster requirement; harmless on one server).
 */
export async function writeContent(writer: RedisClient, keys: KeyLayout, data: SeedData): Promise<void> {
  const fp = data.info.fingerprint;
  const pending = new Map<string, { pipeline: ChainableCommander; weight: number }>();
  const flush = async (tag: string) => {
    const entry = pending.get(tag);
    if (!entry) return;
    pending.delete(tag);
    const results = await entry.pipeline.exec();
    for (const [err] of results ?? []) if (err) throw err;
  };
  const add = async (tag: string, weight: number, fn: (p: ChainableCommander) => void) => {
    let entry = pending.get(tag);
    if (!entry) pending.set(tag, (entry = { pipeline: writer.pipeline(), weight: 0 }));
    fn(entry.pipeline);
    entry.weight += weight;
    if (entry.weight >= SEED_PIPELINE_WEIGHT) await flush(tag);
  };
  for (const p of data.posts) await add(`p${postShard(p.id)}`, 1, (pl) => pl.set(keys.post(fp, p.id), packPost(p)));
  await add('c', 1, (pl) => pl.set(keys.communities(fp), packr.pack(tableOf(fp, data.communities).list)));
  for (const [name, entries] of data.indexes) {
    const key = keys.index(fp, name);
    await add('c', 1, (pl) => pl.del(key));
    for (let i = 0; i < entries.length; i += ZADD_CHUNK) {
      const args: (string | number)[] = [];
      for (const e of entries.slice(i, i + ZADD_CHUNK)) args.push(e.score, e.id);
      await add('c', args.length / 2, (pl) => pl.zadd(key, ...args));
    }
  }
  for (const tag of [...pending.keys()]) await flush(tag);
  // The flip: readers switch to the new content with this one SET.
  await writer.set(keys.meta(), packr.pack({ format: FORMAT, info: data.info } satisfies Meta));
}

/**
 * Deletes every key matching `pattern` with SCAN + UNLINK in batches (never KEYS, which blocks Redis), on every
 * master of a cluster. One key per UNLINK: a batch of SCAN results spans slots, and a multi-key UNLINK may not.
 */
export async function removeKeys(client: RedisClient, pattern: string): Promise<void> {
  const nodes: Redis[] = client instanceof Cluster ? client.nodes('master') : [client];
  for (const node of nodes) {
    const stream = node.scanStream({ match: pattern, count: 1000 });
    for await (const batch of stream as AsyncIterable<string[]>) {
      if (batch.length === 0) continue;
      const p = node.pipeline();
      for (const key of batch) p.unlink(key);
      await p.exec();
    }
  }
}
