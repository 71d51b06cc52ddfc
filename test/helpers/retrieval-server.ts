import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** How the retrieval server answers: with ids, after a delay, with HTTP 500, or not at all (socket held open). */
export type RetrievalMode = 'ok' | 'slow' | 'error' | 'hang';

export interface RetrievalServer {
  readonly url: string;
  setMode(mode: RetrievalMode, delayMs?: number): void;
  readonly requests: { headers: IncomingHttpHeaders; body: any }[];
  close(): Promise<void>;
}

/**
 * A real retrieval service on a loopback port, speaking the remote candidate source's protocol
 * (src/candidates/remote.ts): POST JSON { viewer, context, limit } -> { ids }.
 */
export async function startRetrievalServer(ids: () => string[]): Promise<RetrievalServer> {
  let mode: RetrievalMode = 'ok';
  let delay = 0;
  const requests: { headers: IncomingHttpHeaders; body: any }[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += String(c)));
    req.on('end', () => {
      let body: any = null;
      try {
        body = JSON.parse(raw);
      } catch {
        body = raw;
      }
      requests.push({ headers: req.headers, body });
      if (mode === 'hang') return;
      if (mode === 'error') {
        res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"broken on purpose"}');
        return;
      }
      const answer = () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ids: ids().slice(0, Number(body?.limit ?? 100)) }));
      if (mode === 'slow') setTimeout(answer, delay);
      else answer();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/candidates`,
    setMode(m, d = 500) {
      mode = m;
      delay = d;
    },
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
