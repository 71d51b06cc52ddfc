/**
 * Redis URLs as REDIS_URL takes them: read by the configuration (which refuses a bad one at start-up) and by the
 * store (which connects to what they name). No client here: nothing outside src/store talks to Redis.
 */

/** Where Redis is: one server (`redis://`, `rediss://`) or a cluster (`redis+cluster://`, `rediss+cluster://`). */
export type RedisTarget =
  | { readonly kind: 'standalone'; readonly url: string }
  | {
      readonly kind: 'cluster';
      readonly nodes: readonly { readonly host: string; readonly port: number }[];
      readonly username?: string;
      readonly password?: string;
      readonly tls: boolean;
    };

/**
 * Parses a Redis URL. A cluster URL lists its seed nodes, comma-separated:
 * `redis+cluster://[user:password@]host:port[,host:port...]`; any one reachable node is enough, the client discovers
 * the others. Throws an Error whose message says what is wrong.
 */
export function parseRedisTarget(url: string): RedisTarget {
  const m = /^(rediss?)\+cluster:\/\/(?:([^@/]*)@)?([^/?#]+)\/?$/.exec(url);
  if (!m) {
    if (/^rediss?:\/\//.test(url)) return { kind: 'standalone', url };
    throw new Error('must start with redis://, rediss://, redis+cluster:// or rediss+cluster://');
  }
  const [, scheme, auth, hosts] = m;
  const nodes = hosts!.split(',').map((hp) => {
    const n = /^([A-Za-z0-9_.-]+|\[[0-9A-Fa-f:.]+\]):(\d{1,5})$/.exec(hp.trim());
    const port = n ? Number(n[2]) : NaN;
    if (!n || port < 1 || port > 65535) throw new Error(`cluster node "${hp}" is not host:port`);
    return { host: n[1]!.replace(/^\[|\]$/g, ''), port };
  });
  let username: string | undefined;
  let password: string | undefined;
  if (auth) {
    const i = auth.indexOf(':');
    username = decodeURIComponent(i < 0 ? auth : auth.slice(0, i)) || undefined;
    password = i < 0 ? undefined : decodeURIComponent(auth.slice(i + 1));
  }
  return { kind: 'cluster', nodes, username, password, tls: scheme === 'rediss' };
}

/** For logs: the target without its password. */
export function redactRedisUrl(url: string): string {
  try {
    const t = parseRedisTarget(url);
    if (t.kind === 'cluster') {
      const auth = t.username || t.password ? `${t.username ?? ''}${t.password ? ':***' : ''}@` : '';
      return `${t.tls ? 'rediss' : 'redis'}+cluster://${auth}${t.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`;
    }
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'redis://(unparseable)';
  }
}
