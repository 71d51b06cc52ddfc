import type { ExperimentAssignment } from './experiments';
import type { Ranker } from './ranker';

/**
 * How one request is ranked, as the feed service resolves it from the request's `ranker` argument, the experiments
 * and the feed's defaults: one ranker, or two merged by team-draft interleaving ("interleave:A,B").
 */
export type RankingPlan =
  | {
      readonly kind: 'single';
      readonly ranker: Ranker;
      /** Set when an experiment chose the ranker. */
      readonly experiment: ExperimentAssignment | null;
      /** `id@version`: part of the snapshot key. */
      readonly label: string;
      /** The request named the ranker: its own order is served (no diversity). */
      readonly explicit: boolean;
    }
  | { readonly kind: 'interleave'; readonly a: Ranker; readonly b: Ranker; readonly label: string };
