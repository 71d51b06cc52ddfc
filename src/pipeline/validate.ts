import { CANDIDATE_SOURCES } from '../candidates';
import { HYDRATORS } from '../features/hydrators';
import { FILTERS } from '../filters';
import type { RankerRegistry } from '../rankers/registry';
import { SELECTORS } from '../selectors';
import { SIDE_EFFECTS } from '../side-effects';
import type { FeedPipelines } from './feeds';

/** A pipeline names something that does not exist, or stages out of order: start-up stops with this message. */
export class PipelineConfigError extends Error {
  override readonly name = 'PipelineConfigError';
}

const known = (registry: Readonly<Record<string, unknown>>) => Object.keys(registry).join(', ');

/**
 * Checks every name of every feed pipeline against the registries of sources, hydrators, filters, selectors and
 * side effects, and the scorer's rankers against the ranker configuration (a variant must be configured; one that
 * failed to load only makes the gateway not ready), plus the order rules the runner relies on. Throws one
 * PipelineConfigError listing every problem.
 */
export function validatePipelines(pipelines: FeedPipelines, rankers: RankerRegistry): void {
  const problems: string[] = [];
  for (const [key, p] of Object.entries(pipelines)) {
    const at = (what: string) => problems.push(`feed "${key}": ${what}`);
    if (p.name !== key) at(`its name is "${p.name}"; a pipeline is registered under its own name`);
    if (!/^[a-z][a-z0-9_-]{0,31}$/.test(key)) at('a feed name is 1-32 of a-z, 0-9, - and _, starting with a letter');
    if (!Number.isInteger(p.deadlineMs) || p.deadlineMs < 1) at(`deadlineMs must be a positive integer (got ${p.deadlineMs})`);
    if (p.sources.length === 0) at('names no candidate source');
    for (const step of p.sources) {
      const name = typeof step.source === 'string' ? step.source : step.source.name;
      if (typeof step.source === 'string' && !Object.hasOwn(CANDIDATE_SOURCES, step.source)) at(`unknown candidate source "${name}" (known: ${known(CANDIDATE_SOURCES)})`);
      if (!Number.isInteger(step.limit) || step.limit < 1) at(`source "${name}": limit must be a positive integer`);
      if (!Number.isInteger(step.timeoutMs) || step.timeoutMs < 1) at(`source "${name}": timeoutMs must be a positive integer`);
    }
    p.hydration.forEach((name, i) => {
      const h = Object.hasOwn(HYDRATORS, name) ? HYDRATORS[name]! : null;
      if (!h) at(`unknown hydrator "${name}" (known: ${known(HYDRATORS)})`);
      else if (i === 0 && h.input !== 'ids') at(`hydration must start with a hydrator of ids (e.g. "posts"), not "${name}"`);
      else if (i > 0 && h.input !== 'candidates') at(`hydrator "${name}" turns ids into candidates: it can only come first`);
    });
    if (p.hydration.length === 0) at('names no hydrator (hydration starts with "posts")');
    let sessionSeen: string | null = null;
    for (const name of p.filters) {
      const f = Object.hasOwn(FILTERS, name) ? FILTERS[name]! : null;
      if (!f) at(`unknown filter "${name}" (known: ${known(FILTERS)})`);
      else if (f.stage === 'session') sessionSeen ??= name;
      else if (sessionSeen) at(`candidate filter "${name}" comes after session filter "${sessionSeen}": candidate filters run before scoring, session filters after`);
    }
    for (const role of ['defaultRanker', 'signedOutRanker'] as const) {
      const id = p.scorer[role];
      if (!rankers.variant(id)) at(`scorer.${role} "${id}" is not a ranker of the configuration (known: ${rankers.list().map((v) => v.id).join(', ')})`);
    }
    for (const step of p.selectors) {
      const s = Object.hasOwn(SELECTORS, step.name) ? SELECTORS[step.name]! : null;
      if (!s) {
        at(`unknown selector "${step.name}" (known: ${known(SELECTORS)})`);
        continue;
      }
      const problem = s.check(step.options);
      if (problem) at(`selector "${step.name}": ${problem}`);
    }
    for (const name of p.sideEffects) if (!Object.hasOwn(SIDE_EFFECTS, name)) at(`unknown side effect "${name}" (known: ${known(SIDE_EFFECTS)})`);
  }
  if (problems.length > 0) throw new PipelineConfigError(`invalid feed pipelines:\n  ${problems.join('\n  ')}`);
}
