import { SignJWT, UnsecuredJWT } from 'jose';
import { TokenService } from '../../src/auth/tokens';
import { GatewayError } from '../../src/errors';

const SECRET = 's'.repeat(40);
const tokens = new TokenService(SECRET);

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    return e instanceof GatewayError ? e.code : `not a GatewayError: ${String(e)}`;
  }
  return undefined;
}

describe('viewer tokens', () => {
  test('a signed token gives its subject and roles', async () => {
    const t = await tokens.sign('alice', { roles: ['mle'] });
    expect(await tokens.verify(t)).toEqual({ userId: 'alice', roles: ['mle'], expiresAt: null });
  });

  test('no header is signed out, not an error', async () => {
    expect(await tokens.fromAuthorizationHeader(null)).toBeNull();
    expect(await tokens.fromAuthorizationHeader('')).toBeNull();
  });

  test('a header that is not "Bearer <token>" is UNAUTHENTICATED', async () => {
    expect(await codeOf(tokens.fromAuthorizationHeader('Basic YWxpY2U6cHc='))).toBe('UNAUTHENTICATED');
    expect(await codeOf(tokens.fromAuthorizationHeader('Bearer'))).toBe('UNAUTHENTICATED');
    expect(await codeOf(tokens.fromAuthorizationHeader('Bearer a b'))).toBe('UNAUTHENTICATED');
  });

  test('forged (other secret), expired, alg none, malformed and subject-less tokens are UNAUTHENTICATED', async () => {
    const forged = await new TokenService('o'.repeat(40)).sign('alice');
    const expired = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('alice').setExpirationTime(Math.floor(Date.now() / 1000) - 60).sign(new TextEncoder().encode(SECRET));
    const none = new UnsecuredJWT({}).setSubject('alice').encode();
    const noSub = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(SECRET));
    const hugeSub = await tokens.sign('x'.repeat(1000));
    for (const t of [forged, expired, none, noSub, hugeSub, 'not.a.jwt', 'abc']) {
      expect(await codeOf(tokens.verify(t))).toBe('UNAUTHENTICATED');
    }
  });

  test('the error says why without echoing the token', async () => {
    const forged = await new TokenService('o'.repeat(40)).sign('alice');
    await expect(tokens.verify(forged)).rejects.toThrow(/signature/);
    await expect(tokens.verify(forged)).rejects.not.toThrow(forged);
  });
});
