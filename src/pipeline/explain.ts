import { hydratePage, type Candidate, type RunRequest } from '../features/hydrators';
import type { Loaders } from '../features/loaders';
import type { RankerRegistry } from '../rankers/registry';
import { explainCandidates } from '../rankers/scoring';

/** Why one edge ranks where it does: the values its ranker saw and each feature's share of the score. */
export interface EdgeExplanation {
  readonly ranker: string;
  readonly rankerVersion: string;
  readonly features: readonly { readonly name: string; readonly value: number | null; readonly contribution: number | null }[];
  /** The part of the score no feature explains; null when the ranker gives no contributions. */
  readonly bias: number | null;
}

/**
 * Explanations for a page's edges: the posts are hydrated again (one batch) as a run hydrates them, and each is
 * explained by the ranker that placed it (`contributedBy` for an interleaved list, else `servedBy`).
 */
export async function explainEdges(
  edges: readonly { readonly postId: string; readonly contributedBy: string | null }[],
  servedBy: string,
  req: RunRequest,
  rankers: RankerRegistry,
  loaders: Loaders,
): Promise<ReadonlyMap<string, EdgeExplanation>> {
  const inputs = await hydratePage(edges.map((e) => e.postId), req, loaders);
  const placedBy = new Map(edges.map((e) => [e.postId, e.contributedBy ?? servedBy]));
  const byRanker = new Map<string, Candidate[]>();
  for (const input of inputs) {
    const rankerId = placedBy.get(input.post.id)!;
    let list = byRanker.get(rankerId);
    if (!list) byRanker.set(rankerId, (list = []));
    list.push(input);
  }
  const out = new Map<string, EdgeExplanation>();
  for (const [rankerId, list] of byRanker) {
    const ranker = rankers.get(rankerId);
    if (!ranker) continue;
    const { batch, explanation } = await explainCandidates(ranker, list);
    const width = ranker.features.length;
    list.forEach((input, r) => {
      out.set(input.post.id, {
        ranker: ranker.id,
        rankerVersion: ranker.version,
        features: ranker.features.map((name, c) => {
          const v = batch.values[r * width + c]!;
          return { name, value: Number.isNaN(v) ? null : v, contribution: explanation ? explanation.contributions[r * (width + 1) + c]! : null };
        }),
        bias: explanation ? explanation.contributions[r * (width + 1) + width]! : null,
      });
    });
  }
  return out;
}
