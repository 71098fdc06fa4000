import { EventEmitter } from 'node:events';
import pino, { type Logger } from 'pino';
import type { DeviceCommands } from './commands.js';
import type { ConnectionState, DeviceDriver, DriverCapabilities, DriverEvents, EventSink } from './driver.js';
import type { ByteLinkFactory } from './link.js';
import { LinkStatsRecorder, type LinkStats } from './linkStats.js';
import { LinkSupervisor, type BackoffOptions, type Timers } from './reconnect.js';
import { ScanSession, type ScanDecoder, type ScanSessionOptions } from './scanSession.js';

/** Settings of every scan reader driver that are not part of the device URL; every field is optional. */
export interface ScanReaderDriverOptions {
  logger?: Logger;
  /** Reconnect backoff; defaults in drivers/core/reconnect.ts. */
  backoff?: BackoffOptions;
  /** For tests: the clock and randomness of the reconnect backoff. */
  timers?: Timers;
  random?: () => number;
}

/** How a scan reader is read: worked out at open, so that a driver can be created without touching the device. */
export interface ScanReading {
  factory: ByteLinkFactory;
  createDecoder: () => ScanDecoder;
  answer?: ScanSessionOptions['answer'];
}

/** What sets one kind of scan reader apart. */
export interface ScanReaderSpec {
  kind: string;
  capabilities: DriverCapabilities;
  commands: DeviceCommands;
  /** Log namespace, e.g. `driver:qr`. */
  logNamespace: string;
  reading(log: Logger): ScanReading;
}

/**
 * A reader that only sends scans (QR and barcode readers on serial, TCP or
 * HID): a supervised link, reopened when lost, read through a ScanSession.
 */
export function createScanReaderDriver(spec: ScanReaderSpec, options: ScanReaderDriverOptions): DeviceDriver {
  return new ScanReaderDriver(spec, options);
}

class ScanReaderDriver extends EventEmitter<DriverEvents> implements DeviceDriver {
  readonly kind: string;
  readonly capabilities: DriverCapabilities;
  readonly commands: DeviceCommands;
  private readonly recorder = new LinkStatsRecorder();
  private readonly log: Logger;
  private supervisor: LinkSupervisor | undefined;
  private session: ScanSession | undefined;
  private closed = false;

  constructor(
    private readonly spec: ScanReaderSpec,
    private readonly options: ScanReaderDriverOptions,
  ) {
    super();
    this.kind = spec.kind;
    this.capabilities = spec.capabilities;
    this.commands = spec.commands;
    this.log = (options.logger ?? pino({ level: 'silent' })).child({ ns: spec.logNamespace });
  }

  get state(): ConnectionState {
    return this.supervisor?.state ?? 'closed';
  }

  stats(): LinkStats {
    return this.recorder.snapshot();
  }

  async open(sink: EventSink): Promise<void> {
    if (this.supervisor || this.closed) throw new Error(`a ${this.kind} driver opens once; create a new driver to open again`);
    const { factory, createDecoder, answer } = this.spec.reading(this.log);
    const session = new ScanSession({ sink, stats: this.recorder, log: this.log, answer });
    const { backoff, timers, random } = this.options;
    const supervisor = new LinkSupervisor({
      factory,
      attach: (link) => session.attach(link, createDecoder()),
      stats: this.recorder,
      ...backoff,
      timers,
      random,
    });
    supervisor.on('state', (state, reason) => {
      this.log.debug({ state, reason }, 'link state');
      this.emit('state', state, reason);
    });
    this.session = session;
    this.supervisor = supervisor;
    await supervisor.start();
  }

  async close(): Promise<void> {
    this.closed = true;
    // The session stops delivering at once; scans queued behind the one in
    // the sink are dropped: a reader that takes answers still holds them and
    // sends them again, and one that does not cannot be asked to.
    const sessionClosed = this.session?.close();
    await this.supervisor?.stop();
    await sessionClosed;
  }
}
