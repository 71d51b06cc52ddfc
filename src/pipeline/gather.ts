import type { Degradation } from '../cache/scores';
import { CANDIDATE_SOURCES } from '../candidates';
import { DeadlineExceeded, withDeadline } from '../deadline';
import { GatewayError } from '../errors';
import type { RunRequest } from '../features/hydrators';
import type { Store } from '../store/store';
import type { Logger } from '../telemetry/logger';
import { withSpan } from '../telemetry/tracing';
import type { FeedPipeline } from './feeds';

export interface Gathered {
  /** Every source's ids, merged in pipeline order (duplicates are the `duplicates` filter's to remove). */
  readonly ids: readonly string[];
  /** Ids each source returned, by source name. */
  readonly retrieved: Readonly<Record<string, number>>;
  /** Fail-open sources that failed or missed their deadline, and why. */
  readonly degraded: readonly Degradation[];
}

/**
 * The scatter-gather stage: every source of the pipeline in parallel, each under its own budget and deadline (never
 * past the request's), merged in pipeline order.
 *
 * A failing or late source contributes nothing and is reported in `degraded` (fail open), unless its step is
 * fail-closed: then the request fails with SERVICE_UNAVAILABLE. When every source fails the request fails too,
 * since an empty feed would hide an outage.
 */
export async function gatherCandidates(pipeline: FeedPipeline, req: RunRequest, deps: { store: Store; logger: Logger }, deadlineMs: number): Promise<Gathered> {
  const started = Date.now();
  const steps = pipeline.sources.map((step) => ({ step, source: typeof step.source === 'string' ? CANDIDATE_SOURCES[step.source]! : step.source }));
  const results = await Promise.allSettled(
    steps.map(({ step, source }) =>
      withSpan(`candidates.${source.name}`, { 'candidates.limit': step.limit }, async (s) => {
        const budget = Math.max(1, Math.min(step.timeoutMs, deadlineMs - (Date.now() - started)));
        try {
          const ids = await withDeadline((signal) => source.fetch(req, deps.store, step.limit, signal), budget, {
            error: (ms) => new DeadlineExceeded(ms, `missed its deadline of ${ms} ms`),
          });
          s.setAttributes({ 'candidates.count': ids.length, 'candidates.outcome': 'ok' });
          // A source past its limit is cut to it; one within it is used as it is (no copy).
          return ids.length > step.limit ? ids.slice(0, step.limit) : ids;
        } catch (err) {
          s.setAttribute('candidates.outcome', err instanceof DeadlineExceeded ? 'timeout' : 'error');
          throw err;
        }
      }),
    ),
  );
  const retrieved: Record<string, number> = {};
  const degraded: Degradation[] = [];
  const ids: string[] = [];
  let firstError: unknown = null;
  results.forEach((r, i) => {
    const { step, source } = steps[i]!;
    if (r.status === 'rejected') {
      const reason = r.reason instanceof DeadlineExceeded ? r.reason.message : `failed: ${String((r.reason as Error)?.message ?? r.reason).slice(0, 200)}`;
      deps.logger.warn({ source: source.name, reason }, step.failClosed ? 'fail-closed candidate source failed' : 'candidate source failed; serving without it');
      if (step.failClosed) {
        throw new GatewayError('SERVICE_UNAVAILABLE', `Candidate source "${source.name}" ${reason}, and the feed cannot be served without it.`, { source: source.name });
      }
      firstError ??= r.reason;
      degraded.push({ source: source.name, reason });
      return;
    }
    retrieved[source.name] = r.value.length;
    // A loop, not concat/flat: one array filled in place, no intermediate arrays, over every gathered id (up to the
    // sources' limits summed: 1,200 for the home feed) on every cold request.
    for (const id of r.value) ids.push(id);
  });
  if (degraded.length === steps.length && firstError) {
    throw new GatewayError('SERVICE_UNAVAILABLE', `Every candidate source of the ${pipeline.name} feed failed (${degraded.map((d) => `${d.source}: ${d.reason}`).join('; ')}).`);
  }
  return { ids, retrieved, degraded };
}
