import type { ScoredList } from '../cache/scores';
import { DeadlineExceeded, withDeadline } from '../deadline';
import { GatewayError } from '../errors';
import type { FeatureInput } from '../features/registry';
import type { RankingPlan } from '../rankers/plan';
import type { Ranker } from '../rankers/ranker';
import type { RankerRegistry } from '../rankers/registry';
import { rankOrder, scoreCandidates } from '../rankers/scoring';
import type { Logger } from '../telemetry/logger';
import type { Metrics } from '../telemetry/metrics';

interface ScorerDeps {
  readonly rankers: RankerRegistry;
  readonly logger: Logger;
  readonly metrics: Metrics;
}

/** What the scorer stage gives a build: the ranked list, and what the `scored` side effects see (null: none run). */
export interface Scored {
  readonly list: Omit<ScoredList, 'createdAt' | 'degraded' | 'funnel'>;
  readonly shadowed: { readonly ranker: Ranker; readonly scores: Float64Array } | null;
}

/**
 * The scorer stage: ranks the candidates by the plan. One ranker: its top `keep` (kept beyond a session's length,
 * since session filters and selectors remove some). Interleaving: both rankers score every candidate, the list is in
 * A's order with B's order beside it, and the session's interleave selector merges them after the session filters.
 * The `scored` side effects (shadows) see a single ranker's scores only, never a fallback's.
 */
export async function scoreWithPlan(plan: RankingPlan, inputs: readonly FeatureInput[], deps: ScorerDeps, keep: number): Promise<Scored> {
  const idOf = (i: number) => inputs[i]!.post.id;
  if (plan.kind === 'interleave') {
    const [sa, sb] = await Promise.all([scoreWithFallback(plan.a, inputs, deps), scoreWithFallback(plan.b, inputs, deps)]);
    const order = rankOrder(inputs, sa.scores);
    const position = new Map(order.map((candidate, i) => [candidate, i]));
    return {
      list: {
        servedBy: `interleave:${plan.a.id},${plan.b.id}`,
        servedByVersion: `${plan.a.id}@${plan.a.version},${plan.b.id}@${plan.b.version}`,
        fallbackFrom: sa.fallbackFrom ?? sb.fallbackFrom,
        fallbackReason: sa.fallbackReason ?? sb.fallbackReason,
        ids: order.map(idOf),
        scores: order.map((i) => sa.scores[i]!),
        teams: null,
        communities: order.map((i) => inputs[i]!.post.community),
        domains: order.map((i) => inputs[i]!.post.domain),
        interleave: { a: sa.ranker.id, b: sb.ranker.id, orderB: rankOrder(inputs, sb.scores).map((candidate) => position.get(candidate)!) },
      },
      shadowed: null,
    };
  }
  const scored = await scoreWithFallback(plan.ranker, inputs, deps);
  const order = rankOrder(inputs, scored.scores).slice(0, keep);
  return {
    list: {
      servedBy: scored.ranker.id,
      servedByVersion: scored.ranker.version,
      fallbackFrom: scored.fallbackFrom,
      fallbackReason: scored.fallbackReason,
      ids: order.map(idOf),
      scores: order.map((i) => scored.scores[i]!),
      teams: null,
      communities: order.map((i) => inputs[i]!.post.community),
      domains: order.map((i) => inputs[i]!.post.domain),
      interleave: null,
    },
    shadowed: scored.fallbackFrom ? null : { ranker: plan.ranker, scores: scored.scores },
  };
}

/**
 * Scores with a variant under its deadline (`timeoutMs` in models/rankers.json); on failure or timeout its fallback
 * serves instead, and the answer says so. Without a fallback the failure reaches the client as SERVICE_UNAVAILABLE.
 */
async function scoreWithFallback(
  ranker: Ranker,
  inputs: readonly FeatureInput[],
  { rankers, logger, metrics }: ScorerDeps,
): Promise<{ ranker: Ranker; scores: Float64Array; fallbackFrom: string | null; fallbackReason: string | null }> {
  const variant = rankers.variant(ranker.id);
  const timeoutMs = variant?.config.timeoutMs;
  try {
    const scores = await withDeadline((signal) => scoreCandidates(ranker, inputs, signal), timeoutMs);
    return { ranker, scores, fallbackFrom: null, fallbackReason: null };
  } catch (err) {
    const deadline = err instanceof DeadlineExceeded;
    const reason = deadline ? err.message : `failed: ${(err as Error).message}`.slice(0, 300);
    const fallbackId = variant?.config.fallback;
    const fallback = fallbackId ? rankers.get(fallbackId) : undefined;
    logger.warn({ ranker: ranker.id, fallback: fallbackId ?? null, reason }, 'ranker failed');
    if (!fallback || fallback.id === ranker.id) {
      throw new GatewayError('SERVICE_UNAVAILABLE', `Ranker "${ranker.id}" ${reason}, and it has no fallback.`, { ranker: ranker.id });
    }
    metrics.rankerFallbacks.inc({ variant: ranker.id, fallback: fallback.id, reason: deadline ? 'deadline' : 'error' });
    const scores = await scoreCandidates(fallback, inputs);
    return { ranker: fallback, scores, fallbackFrom: ranker.id, fallbackReason: reason };
  }
}
