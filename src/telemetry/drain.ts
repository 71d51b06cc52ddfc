import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export type DrainOutcome = 'drained' | 'timeout';

export interface RequestTracker {
  /** Requests received and not yet answered. */
  readonly inFlight: number;
  /** Whether `drain` has been called. */
  readonly draining: boolean;
  /**
   * Stops accepting connections at once (`server.close()`: `server.listening` turns false, which /readyz reports),
   * lets the requests in flight finish, and closes each keep-alive connection as soon as it has no request left.
   * A request that arrives on an open connection meanwhile is still served, with `Connection: close`. Resolves
   * "drained" when no request is in flight, or "timeout" after `graceMs` with some still running (they are left
   * as they are: the caller decides, usually by exiting).
   */
  drain(graceMs: number): Promise<DrainOutcome>;
  /** Destroys every connection still open, answered or not. */
  destroyConnections(): void;
}

/**
 * Counts a server's requests in flight per connection, for a graceful shutdown. Attach it before the server takes
 * traffic. Node's own `server.close()` only closes the connections idle at that moment, and a keep-alive connection
 * whose request finishes later would stay open for its whole keep-alive timeout: this closes it when it goes idle.
 */
export function trackRequests(server: Server): RequestTracker {
  /** Open connections and how many of their requests are unanswered (pipelining allows more than one). */
  const sockets = new Map<Socket, number>();
  let inFlight = 0;
  let draining = false;
  let idle: (() => void) | null = null;

  server.on('connection', (socket: Socket) => {
    sockets.set(socket, 0);
    socket.once('close', () => sockets.delete(socket));
  });

  // First among the request listeners, so the header is set before any route writes its answer.
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    inFlight++;
    sockets.set(socket, (sockets.get(socket) ?? 0) + 1);
    if (draining) res.setHeader('connection', 'close');
    res.once('close', () => {
      inFlight--;
      const left = (sockets.get(socket) ?? 1) - 1;
      if (sockets.has(socket)) sockets.set(socket, left);
      if (!draining) return;
      // end(), not destroy(): what was written is flushed before the FIN.
      if (left === 0) socket.end();
      if (inFlight === 0) idle?.();
    });
  });

  return {
    get inFlight() {
      return inFlight;
    },
    get draining() {
      return draining;
    },
    drain(graceMs) {
      if (draining) throw new Error('already draining');
      draining = true;
      server.close();
      for (const [socket, open] of sockets) if (open === 0) socket.end();
      return new Promise<DrainOutcome>((resolve) => {
        if (inFlight === 0) return resolve('drained');
        const timer = setTimeout(() => {
          idle = null;
          resolve('timeout');
        }, graceMs);
        idle = () => {
          clearTimeout(timer);
          idle = null;
          resolve('drained');
        };
      });
    },
    destroyConnections() {
      for (const socket of sockets.keys()) socket.destroy();
      server.closeAllConnections();
    },
  };
}
