import type { Filter } from './filter';
import { nsfwFilter } from './nsfw';

/** Filters by name, as feed pipelines refer to them. */
export const FILTERS: Readonly<Record<string, Filter>> = Object.fromEntries([nsfwFilter].map((f) => [f.name, f]));

export type { Filter, FilterContext } from './filter';
