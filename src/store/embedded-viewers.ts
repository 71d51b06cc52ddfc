import { LRUCache } from 'lru-cache';
import { MAX_BLOCKED } from '../limits';
import { viewerKey } from './keys';
import { DEFAULT_VIEWER_STATE_LIMITS, type ViewerStateLimits, type ViewerStateStore } from './store';

/** In-process viewer state (the embedded store's). Bounded: least recently active viewers go first. */
export class EmbeddedViewerState implements ViewerStateStore {
  private readonly seenByViewer: LRUCache<string, Map<string, number>>;
  private readonly blocked = new LRUCache<string, string[]>({ max: 100_000 });

  constructor(private readonly limits: ViewerStateLimits = DEFAULT_VIEWER_STATE_LIMITS) {
    this.seenByViewer = new LRUCache({ max: 100_000, ttl: limits.seenTtlSeconds * 1000 });
  }

  async seen(userId: string): Promise<Set<string>> {
    const m = this.seenByViewer.get(viewerKey(userId));
    if (!m) return new Set();
    const cutoff = Date.now() - this.limits.seenTtlSeconds * 1000;
    return new Set([...m].filter(([, at]) => at >= cutoff).map(([id]) => id));
  }

  async addSeen(userId: string, postIds: readonly string[]): Promise<void> {
    const key = viewerKey(userId);
    const m = this.seenByViewer.get(key) ?? new Map<string, number>();
    const now = Date.now();
    for (const id of postIds) {
      m.delete(id); // re-insert: Map order is recency order
      m.set(id, now);
    }
    while (m.size > this.limits.maxSeen) m.delete(m.keys().next().value!);
    this.seenByViewer.set(key, m);
  }

  async blockedCommunities(userId: string): Promise<string[]> {
    return [...(this.blocked.get(viewerKey(userId)) ?? [])].sort();
  }

  async setBlockedCommunities(userId: string, names: readonly string[]): Promise<void> {
    this.blocked.set(viewerKey(userId), [...new Set(names)].slice(0, MAX_BLOCKED));
  }
}
