import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisTarget } from '../redis-url';

export type RedisClient = Redis | Cluster;

/**
 * Makes a client for a target. `options` apply to every connection (for a cluster: to each node's). Cluster-level
 * settings that matter for serving are fixed here: reads and writes go to masters (a replica may lag a reseed), and a
 * cluster that cannot be reached is retried by the client itself, as a single server is.
 */
export function createRedisClient(target: RedisTarget, options: RedisOptions & { enableAutoPipelining?: boolean }): RedisClient {
  if (target.kind === 'standalone') return new Redis(target.url, options);
  const { enableAutoPipelining, lazyConnect, enableOfflineQueue, ...redisOptions } = options;
  const clusterOptions: ClusterOptions = {
    lazyConnect,
    enableAutoPipelining,
    enableOfflineQueue,
    scaleReads: 'master',
    slotsRefreshTimeout: 2000,
    clusterRetryStrategy: (times) => Math.min(100 * times, 2000),
    redisOptions: {
      ...redisOptions,
      username: target.username,
      password: target.password,
      ...(target.tls ? { tls: {} } : {}),
    },
  };
  return new Cluster(
    target.nodes.map((n) => ({ host: n.host, port: n.port })),
    clusterOptions,
  );
}

/** Every connection to a server: the client itself, or each node of a cluster. */
export function nodeConnections(client: RedisClient): Redis[] {
  return client instanceof Cluster ? client.nodes('all') : [client];
}

/** Commands the client sends on its own (handshake, health, topology): not the store's round trips. */
const HOUSEKEEPING = new Set(['info', 'cluster', 'ping', 'select', 'client', 'hello', 'auth', 'readonly', 'readwrite', 'quit', 'command', 'asking']);

/**
 * Counts round trips at the connection: every batch the client writes to a server's socket (one command, or a whole
 * pipeline, which ioredis writes in one `write`) is one round trip, whatever it holds. Counting socket writes rather
 * than store calls means nothing can hide a round trip: a helper that loops over keys, a second connection's traffic
 * (everything sharing this client is counted) or a pipeline split by the client all show up. Batches sent in parallel
 * to different cluster nodes count one each, so a cluster never under-reports.
 *
 * The first command of each batch names it in `byCommand`, so a count that grows says where from.
 */
export class RoundTripCounter {
  private total = 0;
  private readonly byCommand = new Map<string, number>();
  private readonly hooked = new WeakSet<object>();

  attach(client: RedisClient): void {
    if (client instanceof Cluster) {
      client.on('+node', (node: Redis) => this.attachNode(node));
      for (const node of client.nodes('all')) this.attachNode(node);
    } else {
      this.attachNode(client);
    }
  }

  get roundTrips(): number {
    return this.total;
  }

  breakdown(): Record<string, number> {
    return Object.fromEntries([...this.byCommand].sort((a, b) => b[1] - a[1]));
  }

  private attachNode(node: Redis): void {
    // ioredis makes a new socket on every (re)connect: hook each as it appears.
    const hook = () => this.hookStream(node.stream);
    node.on('connect', hook);
    if (node.stream) hook();
  }

  private hookStream(stream: { write: (...args: any[]) => boolean } | undefined): void {
    if (!stream || this.hooked.has(stream)) return;
    this.hooked.add(stream);
    const write = stream.write;
    stream.write = (chunk: unknown, ...rest: unknown[]) => {
      this.record(chunk);
      return write.call(stream, chunk, ...rest);
    };
  }

  private record(chunk: unknown): void {
    const name = firstCommandName(chunk);
    if (name === null || HOUSEKEEPING.has(name)) return;
    this.total++;
    this.byCommand.set(name, (this.byCommand.get(name) ?? 0) + 1);
  }
}

/** The name of the first command in a RESP request (`*N\r\n$len\r\nNAME\r\n...`), lower-cased. */
function firstCommandName(chunk: unknown): string | null {
  const head = typeof chunk === 'string' ? chunk.slice(0, 64) : Buffer.isBuffer(chunk) ? chunk.toString('latin1', 0, 64) : null;
  if (!head || head[0] !== '*') return null;
  const m = /^\*\d+\r\n\$\d+\r\n([A-Za-z]+)\r\n/.exec(head);
  return m ? m[1]!.toLowerCase() : null;
}
