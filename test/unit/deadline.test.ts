/** The gateway's one deadline (src/deadline.ts): sources, rankers, side effects and Redis calls all run under it. */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { DeadlineExceeded, withDeadline } from '../../src/deadline';

const after = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));

test('resolves with the work when it is in time', async () => {
  await expect(withDeadline(() => after(5, 'done'), 500)).resolves.toBe('done');
});

test('rejects with DeadlineExceeded when the work is late, and aborts the signal it gave the work', async () => {
  let seen: AbortSignal | null = null;
  const late = withDeadline((signal) => {
    seen = signal;
    return after(400, 'too late');
  }, 30);
  await expect(late).rejects.toBeInstanceOf(DeadlineExceeded);
  await expect(late).rejects.toThrow('deadline of 30 ms exceeded');
  expect(seen!.aborted).toBe(true);
});

test('a caller may name the error', async () => {
  await expect(withDeadline(() => after(400, 1), 20, { error: (ms) => new DeadlineExceeded(ms, `missed its deadline of ${ms} ms`) })).rejects.toThrow(
    'missed its deadline of 20 ms',
  );
});

test('without a deadline the work simply runs', async () => {
  await expect(withDeadline(() => after(30, 'x'), undefined)).resolves.toBe('x');
});

test("the caller's signal aborts the work's", async () => {
  const outer = new AbortController();
  let inner: AbortSignal | null = null;
  const running = withDeadline(
    (signal) =>
      new Promise((_, reject) => {
        inner = signal;
        signal.addEventListener('abort', () => reject(new Error('stopped')));
      }),
    1000,
    { signal: outer.signal },
  );
  outer.abort();
  await expect(running).rejects.toThrow('stopped');
  expect(inner!.aborted).toBe(true);
});

describe('a gateway busy ranking does not blame what it waits on for its own lag', () => {
  let server: Server;
  let client: Socket;
  beforeAll(async () => {
    server = createServer((s) => s.on('data', (d) => s.write(d)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    client = connect(port, '127.0.0.1');
    await new Promise<void>((resolve) => client.once('connect', () => resolve()));
  });
  afterAll(async () => {
    client.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  test('a reply that arrived in time while the event loop was blocked still wins', async () => {
    const reply = withDeadline(() => new Promise<string>((resolve) => client.once('data', (d) => resolve(String(d)))), 50);
    client.write('pong');
    // The event loop is blocked (as by a ranking) well past the deadline; the reply waits in the socket meanwhile.
    const until = Date.now() + 250;
    while (Date.now() < until);
    await expect(reply).resolves.toBe('pong');
  });

  test('a reply that really is late still fails', async () => {
    const reply = withDeadline(() => new Promise<string>((resolve) => setTimeout(() => resolve('late'), 300)), 50);
    const until = Date.now() + 100;
    while (Date.now() < until);
    await expect(reply).rejects.toBeInstanceOf(DeadlineExceeded);
  });
});
