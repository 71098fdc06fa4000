import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ConfigDocument, canonicalContext, validator, type CommandResult } from '../../protocol/index.js';
import type { DeviceConfig } from '../config.js';

/** What applying a document needs from the agent: its devices, replaced as a whole, and their health. */
export interface ConfigTarget {
  /** The devices of the agent's own config file; a document may not reuse their ids. */
  fileDevices: DeviceConfig[];
  /** Checks a device without opening it (a bad kind or URL throws). */
  checkDevice(device: DeviceConfig): Promise<void>;
  replaceDevices(devices: DeviceConfig[]): Promise<void>;
  /** Device states by id. */
  deviceStates(): { id: string; state: string }[];
}

export interface ConfigDocumentsOptions {
  dataDir: string;
  target: ConfigTarget;
  logger: Logger;
  /** How long applied devices get to become ready before the change is rolled back (ms, default 15000). */
  healthTimeoutMs?: number;
  /** Between health polls (ms, default 250). */
  healthPollMs?: number;
}

type ApplyResult = CommandResult<'config.apply'>;

const checkDocument = validator(ConfigDocument);
const EMPTY: ConfigDocument = { version: 0, devices: [] };

/** SHA-256 of the document's canonical JSON: equal documents, equal hashes, whatever their key order. */
export function documentHash(document: ConfigDocument): string {
  const devices = document.devices.map((device) => canonicalContext(device).toString('utf8')).join(',');
  return createHash('sha256').update(`{"devices":[${devices}],"version":${document.version}}`).digest('hex');
}

function writeAtomically(path: string, text: string): void {
  const temporary = `${path}.tmp`;
  const fd = openSync(temporary, 'w', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
}

/**
 * Remote configuration as versioned documents, kept under
 * `{dataDir}/config/`: `committed.json` is what runs, `staged.json` what is
 * being tried. Applying is validate → stage → apply → health check →
 * commit; a failed health check (or apply) puts the committed document's
 * devices back and drops the staged one. An agent that crashes mid-change
 * starts from the committed document again.
 */
export class ConfigDocuments {
  private readonly dir: string;
  private committed: ConfigDocument;
  private readonly log: Logger;
  private applying: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: ConfigDocumentsOptions) {
    this.dir = join(options.dataDir, 'config');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.log = options.logger.child({ ns: 'agent:config' });
    const path = join(this.dir, 'committed.json');
    this.committed = existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as ConfigDocument) : EMPTY;
  }

  /** The committed document (version 0, no devices, before the first). */
  current(): { document: ConfigDocument; hash: string } {
    return { document: this.committed, hash: documentHash(this.committed) };
  }

  /** The devices to run: the config file's, then the committed document's. */
  devices(): DeviceConfig[] {
    return [...this.options.target.fileDevices, ...this.committed.devices];
  }

  /** Applies one document at a time, in the order they arrive. */
  apply(document: unknown): Promise<ApplyResult> {
    const next = this.applying.then(() => this.applyNow(document));
    this.applying = next.catch(() => {});
    return next;
  }

  private async applyNow(input: unknown): Promise<ApplyResult> {
    const current = this.current();
    // 1. Validate.
    if (!checkDocument.check(input)) return this.invalid(0, '', `document: ${checkDocument.explain(input)}`);
    const document = input;
    const hash = documentHash(document);
    if (hash === current.hash) return { outcome: 'unchanged', version: document.version, hash };
    if (document.version <= current.document.version) return this.invalid(document.version, hash, `version ${document.version} is not newer than the committed ${current.document.version}`);
    const problem = await this.problemOf(document);
    if (problem) return this.invalid(document.version, hash, problem);
    // 2. Stage.
    const stagedPath = join(this.dir, 'staged.json');
    writeAtomically(stagedPath, `${JSON.stringify(document, null, 2)}\n`);
    const { target } = this.options;
    // 3. Apply, 4. health check.
    let failure: string | undefined;
    try {
      await target.replaceDevices([...target.fileDevices, ...document.devices]);
      failure = await this.unhealthy(document);
    } catch (error) {
      failure = `apply failed: ${(error as Error).message}`;
    }
    if (failure) {
      this.log.error({ version: document.version, reason: failure }, 'config document failed its health check; rolling back');
      await target.replaceDevices(this.devices());
      writeAtomically(stagedPath, '');
      return { outcome: 'rolled_back', version: document.version, hash, reason: failure };
    }
    // 5. Commit.
    writeAtomically(join(this.dir, 'committed.json'), `${JSON.stringify(document, null, 2)}\n`);
    writeAtomically(stagedPath, '');
    this.committed = document;
    this.log.info({ version: document.version, hash, devices: document.devices.length }, 'config document committed');
    return { outcome: 'committed', version: document.version, hash };
  }

  private invalid(version: number, hash: string, reason: string): ApplyResult {
    this.log.warn({ version, reason }, 'config document refused');
    return { outcome: 'invalid', version, hash, reason };
  }

  private async problemOf(document: ConfigDocument): Promise<string | undefined> {
    const ids = new Set(this.options.target.fileDevices.map((device) => device.id));
    for (const [index, device] of document.devices.entries()) {
      if (ids.has(device.id)) return `devices/${index}: id ${device.id} is taken by another device (the config file's or this document's)`;
      ids.add(device.id);
      try {
        await this.options.target.checkDevice(device);
      } catch (error) {
        return `devices/${index}: ${(error as Error).message}`;
      }
    }
    return undefined;
  }

  /** Waits for the document's devices to be ready; returns why not, or undefined when they are. */
  private async unhealthy(document: ConfigDocument): Promise<string | undefined> {
    const wanted = new Set(document.devices.map((device) => device.id));
    const deadline = Date.now() + (this.options.healthTimeoutMs ?? 15_000);
    for (;;) {
      const states = this.options.target.deviceStates().filter((device) => wanted.has(device.id));
      const failed = states.find((device) => device.state === 'failed');
      if (failed) return `device ${failed.id} failed to open`;
      if (states.length === wanted.size && states.every((device) => device.state === 'ready')) return undefined;
      if (Date.now() >= deadline) {
        const waiting = states.filter((device) => device.state !== 'ready').map((device) => `${device.id} (${device.state})`);
        return `devices not ready in time: ${waiting.join(', ')}`;
      }
      await new Promise((resolve) => setTimeout(resolve, this.options.healthPollMs ?? 250));
    }
  }
}
