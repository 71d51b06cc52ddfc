import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort, waitForRedis } from './redis-server';

/** A local Redis Cluster owned by one test file: three masters on free ports, each stopped by its pid. */
export interface TestRedisCluster {
  /** `redis+cluster://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3`, as REDIS_URL takes it. */
  readonly url: string;
  readonly ports: readonly number[];
  readonly pids: readonly number[];
  /** A plain client per master (for KEYS, FLUSHALL and other per-node commands in tests). */
  nodeClients(): Redis[];
  stop(): Promise<void>;
}

const INSTALL = 'install them: apt-get install -y redis-server redis-tools';

/**
 * Starts three `redis-server --cluster-enabled yes` masters and joins them with `redis-cli --cluster create`, then
 * waits until every node reports cluster_state:ok. Fails loudly (never skips) when redis-server or redis-cli is
 * missing: CI installs both.
 */
export async function startRedisCluster(masters = 3): Promise<TestRedisCluster> {
  const root = mkdtempSync(path.join(tmpdir(), 'rg-cluster-'));
  const children: ChildProcess[] = [];
  const exits: Promise<void>[] = [];
  const ports: number[] = [];
  const stop = async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    await Promise.all(exits);
    rmSync(root, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters; i++) {
      const port = await clusterPort(ports);
      ports.push(port);
      const dir = path.join(root, String(port));
      mkdirSync(dir);
      const child = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', path.join(dir, 'nodes.conf'), '--cluster-node-timeout', '5000', '--save', '', '--appendonly', 'no', '--dir', dir],
        { stdio: 'ignore' },
      );
      children.push(child);
      exits.push(new Promise<void>((resolve) => child.once('exit', () => resolve())));
      await Promise.race([waitForRedis(`redis://127.0.0.1:${port}`), spawnFailure(child, 'redis-server')]);
    }
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes']);
    await waitForClusterOk(ports);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url: `redis+cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`,
    ports,
    pids: children.map((c) => c.pid!),
    nodeClients: () => ports.map((p) => new Redis(p, '127.0.0.1')),
    stop,
  };
}

/** A free port whose cluster bus port (port + 10000) is free too. */
async function clusterPort(taken: readonly number[]): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const p = await freePort();
    if (p + 10000 > 65535 || taken.includes(p)) continue;
    if (await isFree(p + 10000)) return p;
  }
  throw new Error('no free port pair for a cluster node');
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

function spawnFailure(child: ChildProcess, name: string): Promise<never> {
  return new Promise<never>((_, reject) => {
    child.once('error', (err) => reject(new Error(`cannot start ${name} (${INSTALL}): ${err.message}`)));
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code} during start-up`)));
  });
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d) => (out += String(d)));
    child.stderr!.on('data', (d) => (out += String(d)));
    child.once('error', (err) => reject(new Error(`cannot run ${cmd} (${INSTALL}): ${err.message}`)));
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}:\n${out.slice(-2000)}`))));
  });
}

async function waitForClusterOk(ports: readonly number[], timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const clients = ports.map((p) => new Redis(p, '127.0.0.1', { maxRetriesPerRequest: 0 }));
  try {
    for (;;) {
      const infos = await Promise.all(clients.map((c) => c.cluster('INFO').catch(() => '')));
      if (infos.every((i) => /cluster_state:ok/.test(String(i)) && /cluster_known_nodes:(\d+)/.exec(String(i))?.[1] === String(ports.length))) return;
      if (Date.now() > deadline) throw new Error(`the cluster on ${ports.join(', ')} did not reach cluster_state:ok within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    for (const c of clients) c.disconnect();
  }
}
