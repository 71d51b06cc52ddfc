import type { Cluster, Redis } from 'ioredis';

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
export interface FeatureLog {
  append(entries: readonly FeatureLogEntry[]): Promise<void>;
  /** Reads entries oldest first, `count` at a time after `cursor` (null: from the start). */
  read(cursor: string | null, count: number): Promise<{ entries: FeatureLogEntry[]; next: string | null }>;
}

/** How many entries the log keeps (approximately, for Redis: trimming is amortized with MAXLEN ~). */
export const FEATURE_LOG_MAX_ENTRIES = 200_000;

const encodeValue = (v: number) => (Number.isNaN(v) ? '' : String(v));

/** A Redis Stream, capped with `MAXLEN ~`: one XADD per served item, all of a page in one pipeline. */
export class RedisFeatureLog implements FeatureLog {
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly key: string,
    private readonly maxEntries = FEATURE_LOG_MAX_ENTRIES,
  ) {}

  async append(entries: readonly FeatureLogEntry[]): Promise<void> {
    if (entries.length === 0) return;
    // Plain commands issued together: the serving client auto-pipelines them with the page's other writes.
    await Promise.all(entries.map((e) =>
      this.redis.xadd(this.key, 'MAXLEN', '~', String(this.maxEntries), '*',
        'request', e.requestId, 'feed', e.feed, 'ranker', e.ranker, 'version', e.rankerVersion,
        'position', String(e.position), 'post', e.postId, 'score', String(e.score),
        'features', e.features.join(','), 'values', e.values.map(encodeValue).join(','), 'at', String(e.at)),
    ));
  }

  async read(cursor: string | null, count: number): Promise<{ entries: FeatureLogEntry[]; next: string | null }> {
    // Exclusive start after the cursor ("(" prefix, Redis 6.2+).
    const rows = await this.redis.xrange(this.key, cursor ? `(${cursor}` : '-', '+', 'COUNT', count);
    const entries = rows.map(([, fields]) => {
      const f = new Map<string, string>();
      for (let i = 0; i + 1 < fields.length; i += 2) f.set(fields[i]!, fields[i + 1]!);
      const features = (f.get('features') ?? '').split(',').filter(Boolean);
      return {
        requestId: f.get('request') ?? '',
        feed: f.get('feed') ?? '',
        ranker: f.get('ranker') ?? '',
        rankerVersion: f.get('version') ?? '',
        position: Number(f.get('position')),
        postId: f.get('post') ?? '',
        score: Number(f.get('score')),
        features,
        values: (f.get('values') ?? '').split(',').map((v) => (v === '' ? NaN : Number(v))),
        at: Number(f.get('at')),
      };
    });
    return { entries, next: rows.length === count ? rows[rows.length - 1]![0] : null };
  }
}

/**
 * How many entries the in-process log keeps: nothing exports it (`cli export-log` reads Redis), so it holds the last
 * 800 or so pages for tests and a look in a debugger, not a training set. At about 1 KB an entry (35 numbers, ids),
 * 200,000 would hold 200 MB of a serving process's memory; `npm run bench`'s memory scenario measured that growth.
 */
export const MEMORY_FEATURE_LOG_MAX_ENTRIES = 20_000;

/** In-process log for the embedded store: a bounded ring (the oldest entries go first). */
export class MemoryFeatureLog implements FeatureLog {
  private entries: FeatureLogEntry[] = [];
  private offset = 0;

  constructor(private readonly maxEntries = MEMORY_FEATURE_LOG_MAX_ENTRIES) {}

  async append(entries: readonly FeatureLogEntry[]): Promise<void> {
    this.entries.push(...entries);
    const excess = this.entries.length - this.maxEntries;
    if (excess > 0) {
      this.entries.splice(0, excess);
      this.offset += excess;
    }
  }

  async read(cursor: string | null, count: number): Promise<{ entries: FeatureLogEntry[]; next: string | null }> {
    const start = Math.max(0, (cursor === null ? 0 : Number(cursor) + 1) - this.offset);
    const slice = this.entries.slice(start, start + count);
    const last = this.offset + start + slice.length - 1;
    return { entries: slice, next: slice.length === count ? String(last) : null };
  }
}

/**
 * Training rows as `npm run train`'s script reads them: `label,group,<features...>`, one group per request. The
 * label is 0: the gateway sees no clicks; join the client's click log on (request, position) to fill it in.
 * Columns after the features start with "_" (the training script skips them): _request, _position, _post, _ranker,
 * _version, _score.
 */
export async function exportFeatureLog(log: FeatureLog, write: (line: string) => void): Promise<number> {
  let cursor: string | null = null;
  let header: string[] | null = null;
  let n = 0;
  for (;;) {
    const { entries, next } = await log.read(cursor, 1000);
    for (const e of entries) {
      if (!header) {
        header = [...e.features];
        write(`label,group,${header.join(',')},_request,_position,_post,_ranker,_version,_score\n`);
      }
      // Entries logged under another feature list are mapped by name; features they lack are missing.
      const byName = new Map(e.features.map((f, i) => [f, e.values[i] ?? NaN]));
      const values = header.map((f) => encodeValue(byName.get(f) ?? NaN));
      write(`0,${e.requestId},${values.join(',')},${e.requestId},${e.position},${e.postId},${e.ranker},${e.rankerVersion},${e.score}\n`);
      n++;
    }
    if (next === null) break;
    cursor = next;
  }
  return n;
}
