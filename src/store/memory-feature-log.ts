import type { FeatureLogEntry, FeatureLogStore } from './store';

/**
 * How many entries the in-process log keeps: nothing exports it (`cli export-log` reads Redis), so it holds the last
 * few hundred pages for tests and a look in a debugger, not a training set; an entry is a feature row (35 numbers)
 * and ids, and this bound keeps the log's share of a serving process's memory small.
 */
export const MEMORY_FEATURE_LOG_MAX_ENTRIES = 20_000;

/** The embedded store's feature log: a bounded ring (the oldest entries go first). */
export class MemoryFeatureLog implements FeatureLogStore {
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
