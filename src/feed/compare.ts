import type { Viewer } from '../auth/tokens';
import { GatewayError } from '../errors';
import type { Loaders } from '../features/loaders';
import { MAX_COMPARE_K } from '../limits';
import type { PipelineRunner } from '../pipeline/runner';
import { kendallTau, overlapAtK } from '../rankers/agreement';
import type { Ranker } from '../rankers/ranker';
import type { RankerRegistry } from '../rankers/registry';
import { rankOrder, scoreCandidates } from '../rankers/scoring';
import { resolveContext } from './context';
import type { FeedContext } from './page';
import { resolveRanker } from './plan';

export interface CompareRequest {
  /** The feed whose candidates are compared on. */
  readonly feed: string;
  /** Rank for this viewer (user id); null: signed out. */
  readonly viewerId: string | null;
  readonly context: FeedContext | null;
  readonly a: string;
  readonly b: string;
  readonly k: number;
  /** Who asks (for the rankers' visibility). */
  readonly caller: Viewer | null;
}

export interface RankerComparison {
  readonly k: number;
  readonly candidates: number;
  readonly a: { readonly ranker: Ranker; readonly top: readonly { postId: string; rank: number; score: number }[] };
  readonly b: { readonly ranker: Ranker; readonly top: readonly { postId: string; rank: number; score: number }[] };
  readonly overlapAtK: number;
  readonly kendallTau: number;
  /** Every post in either top k: its rank under each (1-based, over all candidates) and rankA - rankB. */
  readonly shifts: readonly { postId: string; rankA: number; rankB: number; shift: number }[];
}

/**
 * The same candidate set (a feed's retrieval, hydration and candidate filters) ranked by two variants: both top-k
 * lists, overlap@k, Kendall's tau over every candidate, and each top-k item's rank shift. For MLEs (the resolver
 * checks the role).
 */
export async function compareRankers(req: CompareRequest, runner: PipelineRunner, rankers: RankerRegistry, loaders: Loaders): Promise<RankerComparison> {
  if (!Number.isInteger(req.k) || req.k < 1 || req.k > MAX_COMPARE_K) {
    throw new GatewayError('BAD_USER_INPUT', `"k" must be between 1 and ${MAX_COMPARE_K} (got ${req.k}).`, { argument: 'k' });
  }
  const a = resolveRanker(rankers, req.a, req.caller);
  const b = resolveRanker(rankers, req.b, req.caller);
  const pipeline = runner.pipeline(req.feed);
  if (!pipeline) throw new Error(`no feed pipeline named "${req.feed}"`);
  if (pipeline.context === 'none' && req.viewerId === null) {
    throw new GatewayError('BAD_USER_INPUT', `Comparing on the ${pipeline.name} feed needs a viewer (sign in or pass "viewer").`);
  }
  const context = await resolveContext(pipeline, req.context, loaders);
  const viewer = req.viewerId !== null ? await loaders.viewers.load(req.viewerId) : null;
  const { inputs } = await runner.candidates(pipeline, { viewer, community: context.community, contextPost: context.contextPost }, loaders, pipeline.deadlineMs);
  const [sa, sb] = await Promise.all([scoreCandidates(a, inputs), scoreCandidates(b, inputs)]);
  const orderA = rankOrder(inputs, sa);
  const orderB = rankOrder(inputs, sb);
  const rankA = new Map(orderA.map((idx, r) => [idx, r + 1]));
  const rankB = new Map(orderB.map((idx, r) => [idx, r + 1]));
  const k = Math.min(req.k, inputs.length);
  const top = (order: number[], scores: Float64Array) => order.slice(0, k).map((idx, r) => ({ postId: inputs[idx]!.post.id, rank: r + 1, score: scores[idx]! }));
  const union = [...new Set([...orderA.slice(0, k), ...orderB.slice(0, k)])];
  return {
    k,
    candidates: inputs.length,
    a: { ranker: a, top: top(orderA, sa) },
    b: { ranker: b, top: top(orderB, sb) },
    overlapAtK: overlapAtK(orderA, orderB, k),
    kendallTau: kendallTau(sa, sb),
    shifts: union.map((idx) => ({ postId: inputs[idx]!.post.id, rankA: rankA.get(idx)!, rankB: rankB.get(idx)!, shift: rankA.get(idx)! - rankB.get(idx)! })),
  };
}
