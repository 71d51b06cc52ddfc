import type { RunRequest } from '../features/hydrators';
import type { Store } from '../store/store';

/**
 * A candidate source retrieves post ids for one request. To add one: copy a sibling file (e.g. `popular.ts`), give
 * it a new name, register it in `index.ts` and list it in a feed pipeline (src/pipeline/feeds.ts).
 *
 * Contract: `fetch` returns at most `limit` ids, best first in the source's own order, without duplicates. It reads
 * the store in a constant number of round trips (a batch), never one per candidate.
 */
export interface CandidateSource {
  readonly name: string;
  /** `signal` aborts when the source's deadline passes; a source doing I/O outside the store should stop then. */
  fetch(req: RunRequest, store: Store, limit: number, signal?: AbortSignal): Promise<string[]>;
}
