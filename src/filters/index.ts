import { blockedFilter } from './blocked';
import { duplicatesFilter } from './duplicates';
import type { Filter } from './filter';
import { nsfwFilter } from './nsfw';
import { seenFilter } from './seen';

/** Filters by name, as feed pipelines refer to them. */
export const FILTERS: Readonly<Record<string, Filter>> = Object.fromEntries(
  [
    duplicatesFilter,
    nsfwFilter,
    seenFilter,
    blockedFilter,
  ].map((f): [string, Filter] => [f.name, f as Filter]),
);

export type { CandidateFilter, Filter, FilterContext, RankedColumns, SessionFilter } from './filter';
