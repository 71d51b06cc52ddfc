import { createSecretKey, type KeyObject } from 'node:crypto';
import { errors, jwtVerify, SignJWT } from 'jose';
import { GatewayError } from '../errors';

/** Who is asking: the subject of a verified bearer token. */
export interface Viewer {
  readonly userId: string;
  readonly roles: readonly string[];
  /** When the token stops being valid (its `exp`, in milliseconds since the epoch); null when it has none. */
  readonly expiresAt?: number | null;
}

export const ROLE_MLE = 'mle';

const MAX_USER_ID_LENGTH = 128;

/**
 * HS256 viewer tokens (`sub` = user id, optional `roles` array). Verification pins the algorithm, so `alg: none` and
 * asymmetric algorithms are refused, and requires `sub`; `exp` is enforced when present.
 */
export class TokenService {
  /** A key object, made once: given bytes, jose imports them into a new key object on every sign and verify. */
  private readonly key: KeyObject;

  constructor(secret: string) {
    this.key = createSecretKey(Buffer.from(secret, 'utf8'));
  }

  async sign(userId: string, opts: { roles?: readonly string[]; expiresIn?: string | number } = {}): Promise<string> {
    const jwt = new SignJWT({ roles: [...(opts.roles ?? [])] })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(userId)
      .setIssuedAt();
    if (opts.expiresIn !== undefined) jwt.setExpirationTime(opts.expiresIn);
    return jwt.sign(this.key);
  }

  /** Verifies a raw token. Throws UNAUTHENTICATED with a reason a client can act on (never the token itself). */
  async verify(token: string): Promise<Viewer> {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.key, { algorithms: ['HS256'] }));
    } catch (err) {
      const reason =
        err instanceof errors.JWTExpired
          ? 'token expired'
          : err instanceof errors.JWSSignatureVerificationFailed
            ? 'token signature is invalid'
            : err instanceof errors.JOSEAlgNotAllowed
              ? 'token algorithm not allowed (HS256 only)'
              : 'token is malformed';
      throw new GatewayError('UNAUTHENTICATED', `Invalid bearer token: ${reason}.`);
    }
    const sub = payload.sub;
    if (typeof sub !== 'string' || sub.length === 0 || sub.length > MAX_USER_ID_LENGTH) {
      throw new GatewayError('UNAUTHENTICATED', `Invalid bearer token: "sub" must be a user id of 1-${MAX_USER_ID_LENGTH} characters.`);
    }
    const roles = Array.isArray(payload.roles) ? (payload.roles as unknown[]).filter((r): r is string => typeof r === "string") : [];
    return { userId: sub, roles, expiresAt: typeof payload.exp === 'number' ? payload.exp * 1000 : null };
  }

  /**
   * Reads an `Authorization` header. No header: signed out (null). A header that is present but not a valid bearer
   * token is an error rather than a silent sign-out, so a client with a broken token finds out.
   */
  async fromAuthorizationHeader(header: string | null | undefined): Promise<Viewer | null> {
    if (header === null || header === undefined || header.trim() === '') return null;
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) throw new GatewayError('UNAUTHENTICATED', 'Authorization header must be "Bearer <token>".');
    return this.verify(m[1]!);
  }
}
