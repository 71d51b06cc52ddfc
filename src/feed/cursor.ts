import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { GatewayError } from '../errors';

/** What a cursor carries: which request's snapshot (by key), which generation of it, and the edge's position. */
export interface CursorPayload {
  /** The snapshot key of the feed request that issued the cursor. */
  readonly key: string;
  readonly generation: string;
  /** 0-based position of the edge in the snapshot. */
  readonly offset: number;
}

const MAX_CURSOR_LENGTH = 512;
const MAC_BYTES = 16;

/**
 * Opaque, signed cursors: base64url(JSON payload) "." base64url(HMAC-SHA256 truncated to 128 bits).
 *
 * The MAC stops a client from forging an offset or pointing a cursor at another viewer's snapshot; the key inside it
 * binds the cursor to the request that issued it, so a cursor of one feed (or viewer, or ranker) is refused by another.
 */
export class CursorCodec {
  /** A key object, made once: an HMAC keyed with it skips copying and importing the secret on every cursor. */
  private readonly secret: KeyObject;

  constructor(secret: string) {
    this.secret = createSecretKey(Buffer.from(secret, 'utf8'));
  }

  encode(p: CursorPayload): string {
    const body = Buffer.from(JSON.stringify([p.key, p.generation, p.offset]), 'utf8').toString('base64url');
    return `${body}.${this.mac(body).toString('base64url')}`;
  }

  /** Checks and decodes a cursor issued for the request whose snapshot key is `expectedKey`. */
  decode(cursor: string, expectedKey: string): CursorPayload {
    if (cursor.length > MAX_CURSOR_LENGTH) throw invalid('cursor is too long');
    const dot = cursor.indexOf('.');
    if (dot <= 0 || dot !== cursor.lastIndexOf('.')) throw invalid('cursor is malformed');
    const body = cursor.slice(0, dot);
    const mac = Buffer.from(cursor.slice(dot + 1), 'base64url');
    const expected = this.mac(body);
    if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) throw invalid('cursor signature does not match');
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    } catch {
      throw invalid('cursor is malformed');
    }
    if (
      !Array.isArray(parsed) ||
      parsed.length !== 3 ||
      typeof parsed[0] !== 'string' ||
      typeof parsed[1] !== 'string' ||
      !Number.isSafeInteger(parsed[2]) ||
      (parsed[2] as number) < 0
    ) {
      throw invalid('cursor is malformed');
    }
    const [key, generation, offset] = parsed as [string, string, number];
    if (key !== expectedKey) throw invalid('cursor belongs to a different feed request (feed, context, viewer or ranker differ)');
    return { key, generation, offset };
  }

  private mac(body: string): Buffer {
    return createHmac('sha256', this.secret).update(body).digest().subarray(0, MAC_BYTES);
  }
}

const invalid = (why: string) =>
  new GatewayError('INVALID_CURSOR', `Invalid cursor: ${why}. Use a cursor exactly as returned by the same feed request.`);
