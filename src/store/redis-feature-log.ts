import type { RedisGate } from './redis-viewers';
import type { FeatureLogEntry, FeatureLogStore } from './store';

/** How many entries the log keeps (approximately: trimming is amortized with MAXLEN ~). */
export const FEATURE_LOG_MAX_ENTRIES = 200_000;

const encodeValue = (v: number) => (Number.isNaN(v) ? '' : String(v));

/** A Redis Stream, capped with `MAXLEN ~`: one XADD per served item, all of a page in one pipeline. */
export class RedisFeatureLog implements FeatureLogStore {
  constructor(
    private readonly gate: RedisGate,
    private readonly maxEntries = FEATURE_LOG_MAX_ENTRIES,
  ) {}

  async append(entries: readonly FeatureLogEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const key = this.gate.keys.featureLog();
    // Plain commands issued together: the serving client auto-pipelines them with the page's other writes.
    await this.gate.call(() => Promise.all(
      entries.map((e) =>
        this.gate.redis.xadd(key, 'MAXLEN', '~', String(this.maxEntries), '*',
          'request', e.requestId, 'feed', e.feed, 'ranker', e.ranker, 'version', e.rankerVersion,
          'position', String(e.position), 'post', e.postId, 'score', String(e.score),
          'features', e.features.join(','), 'values', e.values.map(encodeValue).join(','), 'at', String(e.at)),
      ),
    ));
  }

  async read(cursor: string | null, count: number): Promise<{ entries: FeatureLogEntry[]; next: string | null }> {
    // Exclusive start after the cursor ("(" prefix, Redis 6.2+).
    const rows = await this.gate.call(() => this.gate.redis.xrange(this.gate.keys.featureLog(), cursor ? `(${cursor}` : '-', '+', 'COUNT', count));
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
