/** The error a missed deadline rejects with; `what` says whose deadline it was, in words fit for a log or an answer. */
export class DeadlineExceeded extends Error {
  override readonly name = 'DeadlineExceeded';
  constructor(
    readonly ms: number,
    message = `deadline of ${ms} ms exceeded`,
  ) {
    super(message);
  }
}

export interface DeadlineOptions {
  /** The error to reject with when the deadline passes. @default a DeadlineExceeded "deadline of N ms exceeded" */
  readonly error?: (ms: number) => Error;
  /**
   * How late a timer may fire before the lateness is blamed on the event loop rather than the work: a timer that
   * fires later than this past its due time grants the work one more period. @default 20
   */
  readonly loopLagGraceMs?: number;
  /** A deadline of the caller's (a request's, around this step's): when it aborts, the work's signal aborts too. */
  readonly signal?: AbortSignal;
}

/**
 * Runs `work` under a deadline of `ms` milliseconds: resolves with its result, or rejects (and aborts the signal
 * it was given, so its I/O can stop) once the deadline has passed. `ms` undefined: no deadline. The one deadline of
 * the gateway: candidate sources, rankers, side effects and every Redis call go through it.
 *
 * A busy gateway must not blame what it waits on for its own lag. Ranking can block the event loop for longer than a
 * deadline; when the loop frees, timers run before the replies already waiting in a socket are read. So:
 *   - a timer that fired late (the loop was blocked) is re-armed once for another period;
 *   - an expired deadline rejects only after the loop's next poll phase (setImmediate), so a reply that arrived in
 *     time but was not read yet still wins.
 */
export function withDeadline<T>(work: (signal: AbortSignal) => Promise<T>, ms: number | undefined, opts: DeadlineOptions = {}): Promise<T> {
  const controller = new AbortController();
  const outer = opts.signal;
  const onOuterAbort = () => controller.abort(outer?.reason);
  if (outer?.aborted) onOuterAbort();
  else outer?.addEventListener('abort', onOuterAbort, { once: true });
  const unlink = () => outer?.removeEventListener('abort', onOuterAbort);
  if (ms === undefined) return work(controller.signal).finally(unlink);
  const grace = opts.loopLagGraceMs ?? 20;
  let timer: NodeJS.Timeout | undefined;
  let immediate: NodeJS.Immediate | undefined;
  let settled = false;
  const running = work(controller.signal).finally(() => (settled = true));
  const deadline = new Promise<never>((_, reject) => {
    const arm = (graceLeft: boolean) => {
      const due = performance.now() + ms;
      timer = setTimeout(() => {
        if (graceLeft && performance.now() - due > grace) return arm(false);
        immediate = setImmediate(() => {
          if (settled) return;
          const err = opts.error?.(ms) ?? new DeadlineExceeded(ms);
          controller.abort(err);
          reject(err);
        });
      }, ms);
    };
    arm(true);
  });
  return Promise.race([running, deadline]).finally(() => {
    clearTimeout(timer);
    if (immediate) clearImmediate(immediate);
    unlink();
  });
}
