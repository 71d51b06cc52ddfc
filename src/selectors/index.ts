import { diversitySelector } from './diversity';
import { interleaveSelector } from './interleave';
import type { Selector } from './selector';

/** Selectors by name, as feed pipelines refer to them. */
export const SELECTORS: Readonly<Record<string, Selector<any>>> = Object.fromEntries(
  [
    diversitySelector,
    interleaveSelector,
  ].map((s): [string, Selector<any>] => [s.name, s]),
);

export type { RankedList, Selection, Selector, SelectorContext } from './selector';
