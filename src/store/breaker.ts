export type BreakerState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. @default 3 */
  readonly failureThreshold?: number;
  /** How long the circuit stays open before one probe is allowed. @default 1000 */
  readonly cooldownMs?: number;
  /** For tests. @default Date.now */
  readonly now?: () => number;
}

/**
 * A circuit breaker for the store's Redis calls. Closed: calls go through and failures are counted; after
 * `failureThreshold` in a row it opens. Open: callers must not wait on Redis at all (they serve from elsewhere or fail
 * fast) until `cooldownMs` has passed; then exactly one caller gets the probe (`tryProbe()` returns true once) and the
 * circuit is half-open until that probe reports: success closes it, failure opens it for another cool-down.
 *
 * Hand-written: it is a dozen lines of state, and the store needs its transitions (to log them and to say why it is
 * degraded) more than a library's generality.
 */
export class CircuitBreaker {
  private current: BreakerState = 'closed';
  private failures = 0;
  private openedAt = 0;
  private lastReason: string | null = null;
  readonly failureThreshold: number;
  readonly cooldownMs: number;
  private readonly now: () => number;

  constructor(opts: CircuitBreakerOptions = {}) {
    this.failureThreshold = Math.max(1, opts.failureThreshold ?? 3);
    this.cooldownMs = Math.max(0, opts.cooldownMs ?? 1000);
    this.now = opts.now ?? Date.now;
  }

  get state(): BreakerState {
    return this.current;
  }

  /** Consecutive failures so far (0 after a success). */
  get consecutiveFailures(): number {
    return this.failures;
  }

  /** Why the last call failed, while failures are being counted or the circuit is not closed. */
  get reason(): string | null {
    return this.lastReason;
  }

  /** Whether a normal call may go to Redis now. */
  get allowsCalls(): boolean {
    return this.current === 'closed';
  }

  /** Milliseconds until a probe is allowed (0 when one is due or the circuit is not open). */
  get retryInMs(): number {
    return this.current === 'open' ? Math.max(0, this.openedAt + this.cooldownMs - this.now()) : 0;
  }

  /** True exactly once per cool-down: the caller must run one probe and report it. */
  tryProbe(): boolean {
    if (this.current !== 'open' || this.retryInMs > 0) return false;
    this.current = 'half-open';
    return true;
  }

  /** Returns the state before the success, so a caller can log a recovery. */
  recordSuccess(): BreakerState {
    const before = this.current;
    this.current = 'closed';
    this.failures = 0;
    this.lastReason = null;
    return before;
  }

  /** Returns true when this failure opened (or re-opened) the circuit. */
  recordFailure(reason: string): boolean {
    this.failures++;
    this.lastReason = reason;
    if (this.current === 'half-open' || (this.current === 'closed' && this.failures >= this.failureThreshold)) {
      this.current = 'open';
      this.openedAt = this.now();
      return true;
    }
    return false;
  }

  /** Opens at once (the connection is known to be gone: no need to wait for timeouts to count up). */
  trip(reason: string): boolean {
    this.lastReason = reason;
    this.failures = Math.max(this.failures, this.failureThreshold);
    if (this.current === 'open') return false;
    this.current = 'open';
    this.openedAt = this.now();
    return true;
  }
}
