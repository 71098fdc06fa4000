import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export interface PtyPair {
  /** The end the simulated module serves. */
  modulePath: string;
  /** The end the driver opens, as it would open /dev/ttyUSB0. */
  hostPath: string;
  close(): Promise<void>;
}

/**
 * Two pseudo-terminals joined by socat, so a simulator on one end looks
 * like a serial device on the other. Baud settings have no effect on ptys.
 * Needs socat on the PATH (`apt-get install socat`).
 */
export async function createPtyPair(): Promise<PtyPair> {
  const directory = await mkdtemp(join(tmpdir(), 'r30x-pty-'));
  const modulePath = join(directory, 'module');
  const hostPath = join(directory, 'host');
  const socat = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${modulePath}`, `pty,raw,echo=0,link=${hostPath}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  try {
    await transferLoopStarted(socat);
  } catch (error) {
    socat.kill();
    await rm(directory, { recursive: true, force: true });
    throw error;
  }
  const exited = new Promise<void>((resolve) => {
    if (socat.exitCode !== null) resolve();
    else socat.once('exit', () => resolve());
  });
  return {
    modulePath,
    hostPath,
    async close() {
      socat.kill();
      await exited;
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/** Resolves once socat reports that both ptys exist and it is relaying (its `-d -d` notice). */
function transferLoopStarted(socat: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    const lines: string[] = [];
    socat.once('error', (error) => reject(new Error(`cannot start socat: ${error.message}`)));
    socat.once('exit', (code) => reject(new Error(`socat exited with ${code} before relaying:\n${lines.join('\n')}`)));
    createInterface({ input: socat.stderr! }).on('line', (line) => {
      lines.push(line);
      if (line.includes('starting data transfer loop')) resolve();
    });
  });
}
