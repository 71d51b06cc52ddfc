/**
 * Work in progress by key, so concurrent identical requests share one result (single flight). A flight stays
 * registered until its result is also in the cache (`wrote`): a request whose cache read was answered before the
 * write landed then joins the flight instead of doing the work again.
 */
export class SingleFlight {
  private readonly flights = new Map<string, { readonly result: Promise<unknown>; readonly landed: Promise<void> }>();

  /**
   * The running flight for `key`, or a new one running `fn`. `fn` reports the write that puts its result in the
   * cache through `wrote` (the flight ends when that settles); it must not throw synchronously.
   */
  run<T>(key: string, fn: (wrote: (write: Promise<unknown>) => void) => Promise<T>): Promise<T> {
    const running = this.flights.get(key);
    if (running) return running.result as Promise<T>;
    let written: Promise<unknown> = Promise.resolve();
    const result = fn((write) => (written = write));
    // Ends once the result is in the cache (or either failed): a failed write only means the next request works again.
    const landed = result
      .then(() => written)
      .then(
        () => undefined,
        () => undefined,
      )
      .finally(() => this.flights.delete(key));
    this.flights.set(key, { result, landed });
    return result;
  }

  /** Resolves once every flight started so far has ended, its result in the cache. */
  async idle(): Promise<void> {
    while (this.flights.size > 0) await Promise.all([...this.flights.values()].map((f) => f.landed));
  }
}
