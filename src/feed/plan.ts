import { ROLE_MLE, type Viewer } from '../auth/tokens';
import type { Snapshot } from '../cache/snapshots';
import { GatewayError, truncateForMessage as truncate } from '../errors';
import type { FeedPipeline } from '../pipeline/feeds';
import { experimentFor } from '../rankers/experiments';
import type { RankingPlan } from '../rankers/plan';
import type { Ranker } from '../rankers/ranker';
import type { RankerRegistry } from '../rankers/registry';
import type { RankedBy } from './page';

const INTERLEAVE = /^interleave:([^,]+),([^,]+)$/;

const isMle = (viewer: Viewer | null) => viewer?.roles.includes(ROLE_MLE) ?? false;

/**
 * A ranker a caller may use by id: UNKNOWN_RANKER (listing the valid ids) when there is none serving, FORBIDDEN when
 * the variant is not public and the caller is not an MLE.
 */
export function resolveRanker(rankers: RankerRegistry, id: string, viewer: Viewer | null): Ranker {
  const variant = rankers.variant(id);
  const ranker = variant?.ranker;
  if (!variant || !ranker || (!variant.config.public && !isMle(viewer))) {
    // A non-public variant is reported as FORBIDDEN only to signed-in callers; its existence is no secret to them.
    if (variant?.ranker && !variant.config.public && viewer) {
      throw new GatewayError('FORBIDDEN', `Ranker "${id}" is not public: it needs the "${ROLE_MLE}" role.`, { ranker: id });
    }
    const valid = rankers
      .list()
      .filter((v) => v.ranker && (v.config.public || isMle(viewer)))
      .map((v) => v.id);
    throw new GatewayError('UNKNOWN_RANKER', `Unknown ranker "${truncate(id)}". Valid rankers: ${valid.join(', ')}.`, { validRankers: valid });
  }
  return ranker;
}

/**
 * How a request will be ranked: the ranker (or interleaved pair) it names; else the viewer's arm of an experiment on
 * the feed; else the feed's default. When the default is not serving (a configuration without it, or a model that
 * never loaded), the signed-out default serves, so a feed never fails for want of its preferred model.
 */
export function planFor(rankers: RankerRegistry, pipeline: FeedPipeline, requested: string | null, viewer: Viewer | null): RankingPlan {
  if (requested !== null) {
    const m = INTERLEAVE.exec(requested);
    if (m) {
      if (!pipeline.selectors.some((s) => s.name === 'interleave')) {
        throw new GatewayError('BAD_USER_INPUT', `The ${pipeline.name} feed does not interleave rankers.`, { argument: 'ranker' });
      }
      const a = resolveRanker(rankers, m[1]!, viewer);
      const b = resolveRanker(rankers, m[2]!, viewer);
      if (a.id === b.id) throw new GatewayError('BAD_USER_INPUT', 'Interleaving needs two different rankers: "interleave:A,B".', { argument: 'ranker' });
      return { kind: 'interleave', a, b, label: `interleave:${a.id}@${a.version},${b.id}@${b.version}` };
    }
    const ranker = resolveRanker(rankers, requested, viewer);
    return { kind: 'single', ranker, experiment: null, label: `${ranker.id}@${ranker.version}`, explicit: true };
  }
  const assignment = experimentFor(rankers.experiments(), pipeline.name, viewer?.userId ?? null);
  if (assignment) {
    const ranker = rankers.get(assignment.ranker);
    if (ranker) return { kind: 'single', ranker, experiment: assignment, label: `${ranker.id}@${ranker.version}`, explicit: false };
  }
  const { defaultRanker, signedOutRanker } = pipeline.scorer;
  const preferred = viewer ? [defaultRanker, signedOutRanker] : [signedOutRanker];
  const ranker = preferred.map((id) => rankers.get(id)).find((r): r is Ranker => !!r);
  if (!ranker) throw new GatewayError('SERVICE_UNAVAILABLE', `No default ranker of the ${pipeline.name} feed is loaded (${preferred.join(', ')}).`);
  return { kind: 'single', ranker, experiment: null, label: `${ranker.id}@${ranker.version}`, explicit: false };
}

/** `rankedBy` of a page: the plan's ranker, or the fallback that served instead; for an interleaving, the pair. */
export function rankedBy(rankers: RankerRegistry, plan: RankingPlan, s: Snapshot): RankedBy {
  if (plan.kind === 'interleave') {
    return {
      ranker: {
        id: `interleave:${plan.a.id},${plan.b.id}`,
        version: `${plan.a.id}@${plan.a.version},${plan.b.id}@${plan.b.version}`,
        description: `Team-draft interleaving of "${plan.a.id}" and "${plan.b.id}": each edge's contributedBy names the ranker that placed it.`,
        features: [...new Set([...plan.a.features, ...plan.b.features])],
      },
      experiment: null,
      fallbackFrom: null,
      fallbackReason: null,
    };
  }
  const served = s.fallbackFrom ? (rankers.get(s.servedBy) ?? plan.ranker) : plan.ranker;
  return {
    ranker: { id: s.servedBy, version: s.servedByVersion, description: served.description, features: served.features },
    experiment: plan.experiment,
    fallbackFrom: s.fallbackFrom,
    fallbackReason: s.fallbackReason,
  };
}
