import { EventEmitter } from 'node:events';
import { pino, type Logger } from 'pino';
import type { DeviceCommands } from '../core/commands.js';
import { NO_CAPABILITIES, type ConnectionState, type DeviceDriver, type DriverCapabilities, type DriverEvents, type EventSink } from '../core/driver.js';
import type { ByteLink, ByteLinkFactory } from '../core/link.js';
import { createLinkFactory, type LinkFactoryOptions } from '../core/linkFactory.js';
import { LinkStatsRecorder, type LinkStats } from '../core/linkStats.js';
import { LinkSupervisor, type BackoffOptions, type Timers } from '../core/reconnect.js';
import { parseTransportUrl, type TransportUrl } from '../core/transportUrl.js';
import { r30xCommands } from './commands.js';
import { R30xClosedError, R30xCommandError, R30xLinkLostError, R30xNoReplyError } from './errors.js';
import type { R30xSystemParameters } from './frames/replies.js';
import * as operations from './operations.js';
import { ENROLL_TIMEOUT_RANGE, LINK_WAIT_RANGE, R30X_DEFAULTS, parseR30xOptions, type R30xOptions } from './options.js';
import { quirksOf, type R30xQuirks } from './quirks.js';
import { R30xSession } from './session.js';

/** Settings that are not part of the device URL; every field is optional. */
export interface R30xDriverOptions {
  logger?: Logger;
  /** How long a command waits for a lost link to come back, in ms (1–600000, default 30000). */
  linkWaitMs?: number;
  /** Reconnect backoff; defaults in drivers/core/reconnect.ts. */
  backoff?: BackoffOptions;
  link?: LinkFactoryOptions;
  /** For tests: the clock and randomness of the reconnect backoff. */
  timers?: Timers;
  random?: () => number;
}

export interface R30xEnrollOptions {
  /** How long each wait for the finger to be placed or lifted may take, in ms (1000–600000, default 30000). */
  timeoutMs?: number;
  /** Refuse a finger that is already enrolled in another slot (default true). */
  rejectDuplicates?: boolean;
}

/**
 * An R30x-family fingerprint module (R307, ZFM-20, AS608, R503). While open
 * it polls the sensor and reports each identified touch as
 * `{type: 'identified', subject: String(slot), method: 'fingerprint', deviceTime: null, score}`;
 * the agent maps slots to students. Commands run one at a time, between
 * polls, and wait for the link to come back when it was lost.
 */
export interface R30xDriver extends DeviceDriver {
  readonly kind: 'r30x';
  /** ReadSysPara, read afresh. */
  systemParameters(): Promise<R30xSystemParameters>;
  /** TemplateNum: how many slots hold a template. */
  templateCount(): Promise<number>;
  /** ReadConList: the slots that hold a template, ascending. */
  occupiedSlots(): Promise<number[]>;
  /** Two captures of one finger, merged and stored at `slot` (0 to capacity − 1). */
  enroll(slot: number, options?: R30xEnrollOptions): Promise<void>;
  /** LoadChar + UpChar: the template bytes stored at `slot`. */
  exportTemplate(slot: number): Promise<Buffer>;
  /** DownChar + Store: puts template bytes (from exportTemplate, here or on another module) at `slot`. */
  importTemplate(slot: number, template: Uint8Array): Promise<void>;
  /** DeleteChar: clears `count` slots from `slot`. */
  deleteTemplate(slot: number, count?: number): Promise<void>;
  /** Empty: clears the whole library. */
  emptyLibrary(): Promise<void>;
}

/**
 * Throws at once on a URL or option it cannot use. Transports: serial://
 * (a USB-UART adapter) and serial+tcp:// or tcp:// (raw bytes through a
 * serial device server such as ser2net). URL options are in options.ts.
 */
export function createR30xDriver(url: string, options: R30xDriverOptions = {}): R30xDriver {
  const transport = parseTransportUrl(url);
  const r30xOptions = parseR30xOptions(transport);
  const linkWaitMs = options.linkWaitMs ?? R30X_DEFAULTS.linkWaitMs;
  checkRange('linkWaitMs', linkWaitMs, LINK_WAIT_RANGE);
  return new R30xDriverImpl(r30xOptions, createLinkFactory(withModuleBaud(transport, r30xOptions), options.link), { ...options, linkWaitMs });
}

/** The shared link factory defaults to 9600 baud; an R30x module talks at 57600 unless told otherwise. */
function withModuleBaud(transport: TransportUrl, options: R30xOptions): TransportUrl {
  return transport.scheme === 'serial' ? { ...transport, options: { ...transport.options, baud: String(options.baudRate) } } : transport;
}

function checkRange(name: string, value: number, range: { min: number; max: number }): void {
  if (!Number.isInteger(value) || value < range.min || value > range.max) throw new RangeError(`${name} must be an integer from ${range.min} to ${range.max}, got ${value}`);
}

/** A session whose greeting succeeded, with what the module told about itself. */
interface ReadyModule {
  session: R30xSession;
  parameters: R30xSystemParameters;
  /** The finger on the sensor has been identified; nothing more until it lifts. */
  touchHandled: boolean;
  pollTimer?: NodeJS.Timeout;
}

class R30xDriverImpl extends EventEmitter<DriverEvents> implements R30xDriver {
  readonly kind = 'r30x';
  readonly capabilities: DriverCapabilities = Object.freeze({ ...NO_CAPABILITIES, identify: true, templates: true, enroll: true });
  readonly commands: DeviceCommands;
  private readonly recorder = new LinkStatsRecorder();
  private readonly log: Logger;
  private readonly quirks: R30xQuirks;
  private supervisor: LinkSupervisor | undefined;
  private sink: EventSink | undefined;
  private ready: ReadyModule | undefined;
  private greeting: Promise<void> = Promise.resolve();
  private failure: Error | undefined;
  private closed = false;
  private currentState: ConnectionState = 'closed';
  /** Operations and polls run one at a time: each leaves CharBuffer 1 and 2 in a state the next must not disturb. */
  private queue: Promise<unknown> = Promise.resolve();
  private delivery: Promise<void> = Promise.resolve();
  /** Woken whenever `ready`, `failure` or `closed` changes. */
  private readonly readyWaiters = new Set<() => void>();

  constructor(
    private readonly options: R30xOptions,
    private readonly factory: ByteLinkFactory,
    private readonly driverOptions: R30xDriverOptions & { linkWaitMs: number },
  ) {
    super();
    this.quirks = quirksOf(options.model);
    this.commands = r30xCommands(this, options.model);
    this.log = (driverOptions.logger ?? pino({ level: 'silent' })).child({ ns: 'driver:r30x' });
  }

  get state(): ConnectionState {
    return this.currentState;
  }

  stats(): LinkStats {
    return this.recorder.snapshot();
  }

  /**
   * Resolves once the first link has been opened and greeted, or could not
   * be (the supervisor keeps trying in the background). Rejects when the
   * module refused the greeting, e.g. with a wrong password: that needs a
   * person, so the driver goes `failed` and stops.
   */
  async open(sink: EventSink): Promise<void> {
    if (this.supervisor || this.closed) throw new Error('an r30x driver opens once; create a new driver to open again');
    this.sink = sink;
    const { backoff, timers, random } = this.driverOptions;
    const supervisor = new LinkSupervisor({ factory: this.factory, attach: (link) => this.attach(link), stats: this.recorder, ...backoff, timers, random });
    supervisor.on('state', (state, reason) => {
      if (this.failure || this.closed) return;
      // An open link is not ready until the module has been greeted.
      this.setState(state === 'ready' ? 'opening' : state, reason);
    });
    this.supervisor = supervisor;
    await supervisor.start();
    await this.greeting;
    if (this.failure) throw this.failure;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stopPolling();
    this.signalReadyChange();
    await this.supervisor?.stop();
    await this.delivery;
    this.setState('closed');
  }

  systemParameters(): Promise<R30xSystemParameters> {
    return this.operate('read system parameters', ({ session }) => operations.readSystemParameters(session));
  }

  templateCount(): Promise<number> {
    return this.operate('count templates', ({ session }) => operations.templateCount(session));
  }

  occupiedSlots(): Promise<number[]> {
    return this.operate('list occupied slots', ({ session, parameters }) => operations.occupiedSlots(session, parameters.capacity));
  }

  async enroll(slot: number, options: R30xEnrollOptions = {}): Promise<void> {
    const timeoutMs = options.timeoutMs ?? R30X_DEFAULTS.enrollTimeoutMs;
    checkRange('timeoutMs', timeoutMs, ENROLL_TIMEOUT_RANGE);
    return this.operate(`enrol slot ${slot}`, (ready) =>
      operations.enrollFinger(ready.session, {
        slot,
        capacity: ready.parameters.capacity,
        pollIntervalMs: this.options.pollIntervalMs,
        timeoutMs,
        rejectDuplicates: options.rejectDuplicates ?? true,
      }),
    );
  }

  exportTemplate(slot: number): Promise<Buffer> {
    return this.operate(`export slot ${slot}`, ({ session }) => operations.exportTemplate(session, slot));
  }

  importTemplate(slot: number, template: Uint8Array): Promise<void> {
    return this.operate(`import slot ${slot}`, ({ session, parameters }) => operations.importTemplate(session, slot, template, parameters.packetSize));
  }

  deleteTemplate(slot: number, count = 1): Promise<void> {
    return this.operate(`delete slot ${slot}`, ({ session }) => operations.deleteTemplates(session, slot, count));
  }

  emptyLibrary(): Promise<void> {
    return this.operate('empty the library', ({ session }) => operations.emptyLibrary(session));
  }

  private attach(link: ByteLink): void {
    const session = new R30xSession(link, {
      address: this.options.address,
      replyTimeoutMs: this.options.replyTimeoutMs,
      retries: this.options.retries,
      stats: this.recorder,
      log: this.log,
    });
    link.once('close', () => {
      if (this.ready?.session !== session) return;
      this.stopPolling();
      this.ready = undefined;
      this.signalReadyChange();
    });
    this.greeting = this.greet(session);
  }

  /** Never rejects: a greeting that cannot complete either reopens the link or fails the driver. */
  private async greet(session: R30xSession): Promise<void> {
    try {
      const { parameters, templateCount } = await operations.greet(session, this.options.password, this.quirks);
      if (this.closed || session.closed) return;
      this.log.info({ capacity: parameters.capacity, packetSize: parameters.packetSize, templateCount }, 'module greeted');
      this.ready = { session, parameters, touchHandled: false };
      this.signalReadyChange();
      this.setState('ready');
      this.schedulePoll(this.ready);
    } catch (error) {
      if (error instanceof R30xNoReplyError || error instanceof R30xLinkLostError) {
        // The link is gone or has been closed by the session; the supervisor reopens it.
        this.log.warn({ err: error.message }, 'greeting failed; the link will be reopened');
        return;
      }
      await this.fail(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /**
   * A refusal from the module itself (wrong password, address error) or an
   * answer the driver cannot use (a packet size code beyond 3) needs a
   * person; reopening the link would only get the same answer.
   */
  private async fail(error: Error): Promise<void> {
    this.failure = error;
    this.log.error({ err: error.message }, 'module refused the greeting');
    this.setState('failed', error.message);
    this.signalReadyChange();
    await this.supervisor?.stop();
  }

  /**
   * Runs `run` when no other operation or poll is running, on a greeted
   * session. A lost link, or a module that stopped answering (the session
   * then reopens the link), or one that restarted and wants its password
   * again, reruns the whole operation on the next greeted session, up to
   * `retries` times: a sequence such as LoadChar + UpChar must start over
   * because the module's char buffers may not have survived.
   */
  private operate<T>(what: string, run: (ready: ReadyModule) => Promise<T>): Promise<T> {
    return this.exclusive(async () => {
      for (let attempt = 0; ; attempt++) {
        const ready = await this.readyModule();
        try {
          return await run(ready);
        } catch (error) {
          const linkTrouble = error instanceof R30xLinkLostError || error instanceof R30xNoReplyError;
          const passwordGate = error instanceof R30xCommandError && error.passwordGate;
          if (!(linkTrouble || passwordGate) || attempt >= this.options.retries || this.closed) throw error;
          this.log.info({ what, attempt, err: errorMessage(error) }, 'operation interrupted; running it again once the module is back');
          this.recorder.add('retries');
          if (passwordGate) await ready.session.close();
        }
      }
    });
  }

  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    const result = this.queue.then(task);
    this.queue = result.catch(() => {});
    return result;
  }

  /** The greeted module, waiting up to linkWaitMs for a lost link to be reopened and greeted. */
  private async readyModule(): Promise<ReadyModule> {
    const deadline = performance.now() + this.driverOptions.linkWaitMs;
    for (;;) {
      if (this.closed) throw new R30xClosedError();
      if (this.failure) throw this.failure;
      if (this.ready && !this.ready.session.closed) return this.ready;
      const remaining = deadline - performance.now();
      if (remaining <= 0) throw new R30xLinkLostError(`no link to the module within ${this.driverOptions.linkWaitMs} ms`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.readyWaiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, remaining);
        this.readyWaiters.add(wake);
      });
    }
  }

  private signalReadyChange(): void {
    for (const wake of [...this.readyWaiters]) wake();
  }

  private schedulePoll(ready: ReadyModule): void {
    ready.pollTimer = setTimeout(() => void this.poll(ready), this.options.pollIntervalMs);
  }

  private stopPolling(): void {
    clearTimeout(this.ready?.pollTimer);
  }

  private async poll(ready: ReadyModule): Promise<void> {
    try {
      await this.exclusive(() => (this.ready === ready && !this.closed ? this.pollOnce(ready) : Promise.resolve()));
    } catch (error) {
      if (error instanceof R30xCommandError && error.passwordGate) await ready.session.close();
      this.log.warn({ err: errorMessage(error) }, 'sensor poll failed');
    }
    if (this.ready === ready && !this.closed) this.schedulePoll(ready);
  }

  private async pollOnce(ready: ReadyModule): Promise<void> {
    const outcome = await operations.identifyTouch(ready.session, ready.parameters.capacity, ready.touchHandled);
    switch (outcome.kind) {
      case 'noFinger':
        ready.touchHandled = false;
        return;
      case 'sameTouch':
        return;
      case 'unreadable':
        this.log.debug({ reason: outcome.reason }, 'finger not readable; capturing again');
        return;
      case 'unknown':
        ready.touchHandled = true;
        this.log.info('finger not in the library');
        return;
      case 'identified':
        ready.touchHandled = true;
        this.deliver(outcome.slot, outcome.score);
        return;
    }
  }

  /** Events reach the sink one at a time, in order; the module keeps no log, so nothing is acknowledged to it. */
  private deliver(slot: number, score: number): void {
    const sink = this.sink!;
    this.delivery = this.delivery.then(async () => {
      try {
        await sink({ type: 'identified', subject: String(slot), method: 'fingerprint', deviceTime: null, score });
      } catch (error) {
        this.log.warn({ slot, err: errorMessage(error) }, 'sink refused an identification; the module keeps no log to resend it from');
      }
    });
  }

  private setState(state: ConnectionState, reason?: string): void {
    if (state === this.currentState) return;
    this.currentState = state;
    this.emit('state', state, reason);
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
