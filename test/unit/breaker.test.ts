import { CircuitBreaker } from '../../src/store/breaker';

describe('CircuitBreaker', () => {
  let now = 0;
  const make = () => new CircuitBreaker({ failureThreshold: 3, cooldownMs: 1000, now: () => now });

  beforeEach(() => {
    now = 10_000;
  });

  test('opens after N consecutive failures, not after N failures with a success between', () => {
    const b = make();
    b.recordFailure('timeout');
    b.recordFailure('timeout');
    b.recordSuccess();
    b.recordFailure('timeout');
    b.recordFailure('timeout');
    expect(b.state).toBe('closed');
    expect(b.allowsCalls).toBe(true);
    expect(b.recordFailure('timeout')).toBe(true);
    expect(b.state).toBe('open');
    expect(b.allowsCalls).toBe(false);
    expect(b.reason).toBe('timeout');
  });

  test('open: no probe until the cool-down has passed, then exactly one; its failure re-opens for a cool-down', () => {
    const b = make();
    b.trip('connection lost');
    expect(b.tryProbe()).toBe(false);
    now += 999;
    expect(b.retryInMs).toBe(1);
    expect(b.tryProbe()).toBe(false);
    now += 1;
    expect(b.tryProbe()).toBe(true);
    expect(b.state).toBe('half-open');
    expect(b.allowsCalls).toBe(false);
    expect(b.tryProbe()).toBe(false);
    expect(b.recordFailure('refused')).toBe(true);
    expect(b.state).toBe('open');
    expect(b.tryProbe()).toBe(false);
    now += 1000;
    expect(b.tryProbe()).toBe(true);
    expect(b.recordSuccess()).toBe('half-open');
    expect(b.state).toBe('closed');
    expect(b.consecutiveFailures).toBe(0);
    expect(b.reason).toBeNull();
  });
});
