import { buildFeatureBatch } from '../features/batch';
import { hydratePage } from '../features/hydrators';
import { FEATURES } from '../features/registry';
import type { SideEffect } from './side-effect';

const NAMES = FEATURES.map((f) => f.name);

/**
 * Appends a served page's items to the store's feature log, with every registry feature's value as serving computed
 * it: training then uses the values serving used.
 */
export const featureLog: SideEffect = {
  name: 'feature-log',
  on: 'served',
  timeoutMs: 10_000,
  async run(e, { store }) {
    // While the store is degraded the append would fail at once: nothing is computed for it, and no log is written.
    if (e.edges.length === 0 || store.health().degraded) return;
    const viewer = e.viewer ? await e.loaders.viewers.load(e.viewer.userId) : null;
    const inputs = await hydratePage(e.edges.map((edge) => edge.postId), { viewer, community: null, contextPost: e.contextPost }, e.loaders);
    const batch = buildFeatureBatch(NAMES, inputs);
    const byPost = new Map(e.edges.map((edge) => [edge.postId, edge]));
    const at = Date.now();
    await store.featureLog.append(
      inputs.map((input, r) => {
        const edge = byPost.get(input.post.id)!;
        return {
          requestId: e.requestId,
          feed: e.feed,
          ranker: edge.contributedBy ?? e.servedBy,
          rankerVersion: e.servedByVersion,
          position: edge.rank,
          postId: edge.postId,
          score: edge.score,
          features: NAMES,
          values: rowValues(batch.values, r * NAMES.length, NAMES.length),
          at,
        };
      }),
    );
  },
};

/** `count` values of `values` from `at`, as an array (a loop: Array.from on a typed array steps an iterator per value). */
function rowValues(values: Float64Array, at: number, count: number): number[] {
  const out = new Array<number>(count);
  for (let i = 0; i < count; i++) out[i] = values[at + i]!;
  return out;
}
