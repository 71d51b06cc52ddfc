/**
 * The baseline: a bare node:http server answering every request with a fixed JSON body (the gateway's cached page,
 * byte for byte). It runs in a worker thread of the benchmark process so that it has its own event loop, like the
 * gateway, instead of sharing one with the load generator.
 */
import { createServer } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';

const { body, contentType } = workerData as { body: string; contentType: string };
const payload = Buffer.from(body, 'utf8');

const server = createServer((req, res) => {
  // Read the request body, as the gateway must, then answer.
  req.on('data', () => {});
  req.on('end', () => {
    res.writeHead(200, { 'content-type': contentType, 'content-length': payload.length });
    res.end(payload);
  });
});
server.keepAliveTimeout = 5000;
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as { port: number };
  parentPort!.postMessage({ port });
});
parentPort!.on('message', (msg: unknown) => {
  if (msg === 'close') {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  }
});
