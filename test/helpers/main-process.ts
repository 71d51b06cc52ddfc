/** The built gateway (`npm start` runs dist/src/main.js) as a child process, for tests that need a real process. */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { NODE_FLAGS } from '../../src/config';

export const ROOT = path.resolve(__dirname, '../..');
export const MAIN = path.join(ROOT, 'dist/src/main.js');
export const CLI = path.join(ROOT, 'dist/src/cli.js');

export interface Running {
  child: ChildProcess;
  url: string;
  logs: Record<string, unknown>[];
  /** Everything written to stdout, raw (to look for what must never be logged). */
  output(): string;
  stop(): Promise<number | null>;
}

/** Clean environment: only what the test sets, so a developer's own variables do not leak in. */
export function mainEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, PORT: '0', LOG_LEVEL: 'info', ...extra };
}

/** Starts dist/src/main.js (or another build's `main`) and resolves once it logs the address it serves. */
export function startMain(extra: Record<string, string>, main = MAIN): Promise<Running> {
  const child = spawn(process.execPath, [...NODE_FLAGS, main], { env: mainEnv(extra), stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: Record<string, unknown>[] = [];
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += String(d)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start in time; stderr: ${stderr}`)), 60_000);
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited with ${code}: ${stderr}`));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      stdout += `${line}\n`;
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      logs.push(entry);
      const m = /serving (http:\/\/\S+\/graphql)/.exec(String(entry.msg));
      if (m) {
        clearTimeout(timer);
        resolve({
          child,
          url: m[1]!,
          logs,
          output: () => stdout,
          stop: async () => {
            if (child.exitCode === null) child.kill('SIGTERM');
            return exited;
          },
        });
      }
    });
  });
}
