import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ErrorCode } from '../errors';

/**
 * The body of a GraphQL request is read here, within the limit, before yoga sees it, and handed to yoga as a buffer
 * (`req.body`), so an oversized or endless body costs at most `maxBodyBytes` of memory and never reaches the JSON
 * parser.
 */

/** Sends a coded error the way yoga would: a GraphQL response body with `extensions.code`. */
export function sendRequestError(res: ServerResponse, status: number, code: ErrorCode, message: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ errors: [{ message, extensions: { code } }] });
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

/**
 * Reads the request body, at most `maxBytes`. Resolves to the body, or to null after answering 413
 * BODY_TOO_LARGE (and closing the connection, so the rest of the body is not read). A declared Content-Length
 * above the limit is refused before any byte is read.
 */
export function readBodyWithin(req: IncomingMessage, res: ServerResponse, maxBytes: number): Promise<Buffer | null> {
  const tooLarge = () =>
    sendRequestError(res, 413, 'BODY_TOO_LARGE', `The request body is larger than ${maxBytes} bytes.`, { connection: 'close' });
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    tooLarge();
    req.resume();
    return Promise.resolve(null);
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (value: Buffer | null) => {
      if (done) return;
      done = true;
      req.off('data', onData);
      resolve(value);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        tooLarge();
        // Stop reading: the response says close; what the client still sends is discarded with the socket.
        req.pause();
        res.once('finish', () => req.socket.destroy());
        finish(null);
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => finish(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    req.once('error', () => finish(null));
    req.once('aborted', () => finish(null));
  });
}
