import type { Candidate } from '../features/hydrators';
import type { ViewerProfile } from '../features/viewers';
import type { ViewerStateStore } from '../store/store';

/** What a candidate filter may look at besides the candidates themselves. */
export interface FilterContext {
  readonly viewer: ViewerProfile | null;
}

/**
 * A candidate filter removes hydrated candidates before scoring; what it keeps is cached with the scores, so it may
 * depend only on the candidates and the viewer's profile, never on the moment. To add one: copy `nsfw.ts`, register
 * it in `index.ts` and name it in a feed pipeline's `filters`.
 *
 * Contract: `apply` returns the candidates to keep, in their order (the same array when it keeps them all), and
 * reads nothing (no I/O): hydration has fetched what filters need.
 */
export interface CandidateFilter {
  readonly name: string;
  readonly stage: 'candidates';
  apply(candidates: readonly Candidate[], ctx: FilterContext): readonly Candidate[];
}

/** The columns of a cached ranked list a session filter decides on (item i: `ids[i]` of `communities[i]`). */
export interface RankedColumns {
  readonly ids: readonly string[];
  readonly communities: readonly string[];
}

/**
 * A session filter removes items from the cached ranked list each time a viewer starts a session of a feed: what the
 * viewer did since the list was scored (saw posts, blocked a community) takes effect at once, while one scoring
 * serves every session. Scores do not depend on which other candidates are present, so filtering after scoring ranks
 * the rest exactly as filtering before would. To add one: copy `seen.ts`.
 *
 * `read` fetches what the filter needs of a signed-in viewer; the pipeline starts it with the session lookup, so it
 * shares that round trip. When it fails the session is served without the filter and the answer says so.
 */
export interface SessionFilter<S = unknown> {
  readonly name: string;
  readonly stage: 'session';
  read(userId: string, viewers: ViewerStateStore): Promise<S>;
  keep(list: RankedColumns, item: number, state: S): boolean;
}

export type Filter = CandidateFilter | SessionFilter;
