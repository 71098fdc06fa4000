import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';

const CLI = join(process.cwd(), 'cli/campushub.ts');
/** The bundle `npm run build` makes, as production runs it (benchmarks measure its footprint). */
const BUILT_CLI = join(process.cwd(), 'dist/cli/campushub.js');

export interface CampushubProcess {
  child: ChildProcess;
  /** Everything it wrote to stdout and stderr so far, for failure messages. */
  output(): string;
  /** Resolves with the `{ready: …}` line it prints once it serves. */
  ready: Promise<Record<string, unknown>>;
  /** Sends SIGKILL and resolves once the process is gone. */
  kill(): Promise<void>;
  /** Sends SIGTERM and resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Runs `campushub <args>` from source in a child process. */
/** The key-encryption key of hubs that tests start, fixed so that a restarted hub reads what the first one sealed. Tests only. */
export const TEST_KEKS = `test1:${Buffer.alloc(32, 7).toString('base64')}`;

export function spawnCampushub(args: string[], env: NodeJS.ProcessEnv = {}, { built = false }: { built?: boolean } = {}): CampushubProcess {
  const child = spawn(process.execPath, built ? [BUILT_CLI, ...args] : ['--import', 'tsx', CLI, ...args], {
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = new Promise<Record<string, unknown>>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      if (line.startsWith('{"ready"')) resolve(JSON.parse(line) as Record<string, unknown>);
    });
    createInterface({ input: child.stderr! }).on('line', (line) => lines.push(line));
    void exited.then((code) => reject(new Error(`campushub ${args[0]} exited with ${code} before it was ready:\n${lines.join('\n')}`)));
  });
  ready.catch(() => {});
  return {
    child,
    output: () => lines.join('\n'),
    ready,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
