/**
 * A simulated ZKTeco terminal in ADMS push mode (device-protocols.md §3): an
 * HTTP client that performs the handshake, uploads its attendance log,
 * polls for commands every Delay seconds, runs them and posts their results.
 *
 * Like firmware, it forgets a record only when the server answers its
 * upload with 200 "OK…"; any other answer, a refused connection or no
 * answer within requestTimeoutMs makes it send the same records again after
 * ErrorDelay. Delay and ErrorDelay run on injectable timers; the HTTP
 * timeout runs on the real clock, like a socket timeout.
 */
import { EventEmitter } from 'node:events';
import { request as httpRequest, type ClientRequest } from 'node:http';
import { DEFAULT_BEHAVIORS, RETURN, type CommandOutcome, type PushCommandBehavior, type TerminalState } from './behaviors.js';
import { PushTerminalFaults } from './faults.js';
import { acceptsUpload, attlogLine, commandResultLines, parseServerCommands, parseServerOptions, type CommandResultLine, type PunchRecord, type ServerCommand } from './wire.js';

export interface SimulatorTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface MockPushTerminalOptions {
  /** The server's base URL, e.g. `http://127.0.0.1:8081`. */
  server: string;
  serialNumber: string;
  /** `pushver` sent in the handshake; null sends none, as PUSH V2.0.1-era firmware does (default `2.4.1`). */
  pushVersion?: string | null;
  /** Seconds between retries until a handshake says otherwise (default 30, the reference's ErrorDelay). */
  errorDelaySeconds?: number;
  /** How long to wait for each answer, in ms; a slower server counts as failed (1–600000, default 10000). */
  requestTimeoutMs?: number;
  /** Most records per upload (1–10000, default 100). */
  maxRecordsPerUpload?: number;
  /** Line end of uploads and results (default LF, as the PUSH manuals specify). */
  lineEnding?: '\n' | '\r\n';
  /** Newest last; replaces the defaults in behaviors.ts when given. */
  behaviors?: readonly PushCommandBehavior[];
  timers?: SimulatorTimers;
}

export interface ExecutedCommand extends ServerCommand {
  returnCode: number;
}

export interface MockPushTerminalEvents {
  /** The server answered the handshake with these options. */
  handshake: [options: Record<string, string>];
  /** The server OK'd an upload of these records; the terminal forgets them. */
  acknowledged: [records: PunchRecord[]];
  /** An upload was not OK'd; its records go again after ErrorDelay. */
  uploadFailed: [records: PunchRecord[], reason: string];
  /** A handshake, poll or result post failed. */
  requestFailed: [path: string, reason: string];
  /** A command poll was answered with this many commands. */
  polled: [commands: number];
  commandExecuted: [command: ExecutedCommand];
  /** Results of these command ids were posted and answered. */
  resultsPosted: [ids: string[]];
}

interface HttpAnswer {
  status: number;
  body: string;
}

const DEFAULT_DELAY_SECONDS = 10;
const systemTimers: SimulatorTimers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout | undefined),
};

export class MockPushTerminal extends EventEmitter<MockPushTerminalEvents> implements TerminalState {
  readonly serialNumber: string;
  readonly faults = new PushTerminalFaults();
  readonly users = new Map<string, Record<string, string>>();
  /** Every command run, in order. */
  readonly executed: ExecutedCommand[] = [];
  /** The options of the last accepted handshake. */
  serverOptions: Record<string, string> | undefined;
  private readonly log: PunchRecord[] = [];
  private unacknowledged: PunchRecord[] = [];
  private readonly behaviors: PushCommandBehavior[];
  private readonly timers: SimulatorTimers;
  private readonly requests = new Set<ClientRequest>();
  private nextSeq = 1;
  private handshakeTimer: unknown;
  private pollTimer: unknown;
  private retryTimer: unknown;
  private uploading = false;
  private stopped = false;

  constructor(private readonly options: MockPushTerminalOptions) {
    super();
    this.serialNumber = options.serialNumber;
    this.timers = options.timers ?? systemTimers;
    this.behaviors = [...(options.behaviors ?? DEFAULT_BEHAVIORS)];
    for (const [name, value, max] of [
      ['requestTimeoutMs', options.requestTimeoutMs, 600_000],
      ['maxRecordsPerUpload', options.maxRecordsPerUpload, 10_000],
      ['errorDelaySeconds', options.errorDelaySeconds, 3_600],
    ] as const) {
      if (value !== undefined && (!Number.isInteger(value) || value < 1 || value > max)) throw new RangeError(`${name} must be an integer from 1 to ${max}, got ${value}`);
    }
  }

  /** Records in the log, uploaded or not. */
  get logSize(): number {
    return this.log.length;
  }

  /** Records the server has not OK'd yet, oldest first. */
  get pending(): readonly PunchRecord[] {
    return this.unacknowledged;
  }

  /** Adds a behaviour that is asked before every existing one. */
  defineBehavior(behavior: PushCommandBehavior): void {
    this.behaviors.push(behavior);
  }

  /** Handshakes; resolves whether the server accepted it. When it did not, the terminal tries again after ErrorDelay. */
  start(): Promise<boolean> {
    return this.handshake();
  }

  /** A person identifies at the terminal. The record goes up at once when the server asked for Realtime, else on the next poll. */
  punch(userId: string, verify = 1, status = 0, time = new Date()): PunchRecord {
    const record: PunchRecord = { seq: this.nextSeq++, userId, verify, status, time: new Date(Math.floor(time.getTime() / 1000) * 1000), workcode: '0' };
    this.log.push(record);
    this.unacknowledged.push(record);
    if (this.serverOptions?.Realtime === '1') void this.upload();
    return record;
  }

  clearLog(): void {
    this.log.length = 0;
    this.unacknowledged = [];
  }

  /** Stops every timer and drops the requests in flight. */
  stop(): void {
    this.stopped = true;
    for (const timer of [this.handshakeTimer, this.pollTimer, this.retryTimer]) this.timers.clearTimeout(timer);
    for (const request of this.requests) request.destroy();
  }

  private async handshake(): Promise<boolean> {
    this.handshakeTimer = undefined;
    const pushVersion = this.options.pushVersion === undefined ? '2.4.1' : this.options.pushVersion;
    try {
      const answer = await this.send('GET', '/iclock/cdata', { options: 'all', ...(pushVersion === null ? {} : { pushver: pushVersion }), language: '69' });
      const options = answer.status === 200 ? parseServerOptions(answer.body, this.serialNumber) : undefined;
      if (!options) throw new Error(`handshake answered ${answer.status} ${JSON.stringify(answer.body.slice(0, 60))}`);
      this.serverOptions = options;
      this.emit('handshake', options);
    } catch (error) {
      this.emit('requestFailed', '/iclock/cdata', messageOf(error));
      if (!this.stopped) this.handshakeTimer = this.timers.setTimeout(() => void this.handshake(), this.errorDelayMs());
      return false;
    }
    this.schedulePoll(this.delayMs());
    void this.upload();
    return true;
  }

  /** Sends the records not yet OK'd, a batch at a time, until none is left or an upload fails. */
  private async upload(): Promise<void> {
    if (this.uploading || this.retryTimer !== undefined || !this.serverOptions || this.stopped) return;
    this.uploading = true;
    try {
      while (this.unacknowledged.length > 0 && !this.stopped) {
        const batch = this.unacknowledged.slice(0, this.options.maxRecordsPerUpload ?? 100);
        const failure = await this.uploadBatch(batch);
        if (failure !== undefined) {
          this.emit('uploadFailed', batch, failure);
          if (!this.stopped) {
            this.retryTimer = this.timers.setTimeout(() => {
              this.retryTimer = undefined;
              void this.upload();
            }, this.errorDelayMs());
          }
          return;
        }
        this.unacknowledged = this.unacknowledged.filter((record) => !batch.includes(record));
        this.emit('acknowledged', batch);
      }
    } finally {
      this.uploading = false;
    }
  }

  /** Why the server did not OK the batch; undefined when it did. */
  private async uploadBatch(batch: readonly PunchRecord[]): Promise<string | undefined> {
    const lines = [...batch.map(attlogLine), ...this.faults.takeMalformedLines()];
    try {
      const answer = await this.send('POST', '/iclock/cdata', { table: 'ATTLOG', Stamp: String(batch.at(-1)!.seq) }, this.body(lines));
      return acceptsUpload(answer.status, answer.body) ? undefined : `answered ${answer.status} ${JSON.stringify(answer.body.slice(0, 60))}`;
    } catch (error) {
      return messageOf(error);
    }
  }

  private schedulePoll(ms: number): void {
    if (!this.stopped) this.pollTimer = this.timers.setTimeout(() => void this.poll(), ms);
  }

  private async poll(): Promise<void> {
    let nextPollMs = this.delayMs();
    try {
      const answer = await this.send('GET', '/iclock/getrequest', {});
      if (answer.status !== 200) throw new Error(`command poll answered ${answer.status}`);
      const commands = parseServerCommands(answer.body);
      this.emit('polled', commands.length);
      const results = commands.map((command) => this.execute(command));
      if (results.length > 0 && !this.faults.takeDroppedResults()) await this.postResults(results);
      // The poll doubles as the terminal's check for records still to send.
      void this.upload();
    } catch (error) {
      this.emit('requestFailed', '/iclock/getrequest', messageOf(error));
      nextPollMs = this.errorDelayMs();
    }
    this.schedulePoll(nextPollMs);
  }

  private execute(command: ServerCommand): CommandResultLine {
    let outcome: CommandOutcome | undefined;
    // Newest first; the oldest default, `unsupported`, answers anything.
    for (const behavior of [...this.behaviors].reverse()) {
      outcome = behavior.execute(command.command, this);
      if (outcome) break;
    }
    const result = { id: command.id, ...(outcome ?? { returnCode: RETURN.unsupported, cmd: '' }) };
    const executed = { ...command, returnCode: result.returnCode };
    this.executed.push(executed);
    this.emit('commandExecuted', executed);
    return result;
  }

  private async postResults(results: readonly CommandResultLine[]): Promise<void> {
    const answer = await this.send('POST', '/iclock/devicecmd', {}, this.body(results.flatMap(commandResultLines)));
    if (answer.status !== 200) throw new Error(`result post answered ${answer.status}`);
    this.emit(
      'resultsPosted',
      results.map((result) => result.id),
    );
  }

  private body(lines: readonly string[]): string {
    const end = this.options.lineEnding ?? '\n';
    return lines.map((line) => line + end).join('');
  }

  private delayMs(): number {
    return secondsOption(this.serverOptions?.Delay) ?? DEFAULT_DELAY_SECONDS * 1000;
  }

  private errorDelayMs(): number {
    return secondsOption(this.serverOptions?.ErrorDelay) ?? (this.options.errorDelaySeconds ?? 30) * 1000;
  }

  /** One request on a fresh connection, as terminals make them (`Connection: close`). */
  private send(method: 'GET' | 'POST', path: string, query: Record<string, string>, body = ''): Promise<HttpAnswer> {
    const url = new URL(path, this.options.server);
    for (const [name, value] of Object.entries({ SN: this.serialNumber, ...query })) url.searchParams.set(name, value);
    const timeoutMs = this.options.requestTimeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      const request = httpRequest(url, {
        method,
        agent: false,
        headers: { 'User-Agent': 'iClock Proxy/1.09', Connection: 'close', 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body, 'utf8') },
      });
      this.requests.add(request);
      const timer = setTimeout(() => request.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      request.on('response', (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        response.on('error', reject);
      });
      request.on('error', reject);
      request.on('close', () => {
        clearTimeout(timer);
        this.requests.delete(request);
        reject(new Error('the connection closed before an answer'));
      });
      request.end(body);
    });
  }
}

function secondsOption(text: string | undefined): number | undefined {
  const seconds = Number(text);
  return text !== undefined && /^\d+$/.test(text) && seconds > 0 ? seconds * 1000 : undefined;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
