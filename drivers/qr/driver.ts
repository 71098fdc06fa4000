import { EventEmitter } from 'node:events';
import pino, { type Logger } from 'pino';
import { linkInfoCommands, type DeviceCommands } from '../core/commands.js';
import { NO_CAPABILITIES, type ConnectionState, type DeviceDriver, type DriverCapabilities, type DriverEvents, type EventSink } from '../core/driver.js';
import type { ByteLinkFactory } from '../core/link.js';
import { createLinkFactory, type LinkFactoryOptions } from '../core/linkFactory.js';
import { LinkStatsRecorder, type LinkStats } from '../core/linkStats.js';
import { LinkSupervisor, type BackoffOptions, type Timers } from '../core/reconnect.js';
import { parseTransportUrl, type TransportUrl } from '../core/transportUrl.js';
import { parseQrLineOptions, type QrLineOptions } from './options.js';
import { QrLineSession } from './session.js';

/** Settings that are not part of the device URL; every field is optional. */
export interface QrLineDriverOptions {
  logger?: Logger;
  /** Reconnect backoff; defaults in drivers/core/reconnect.ts. */
  backoff?: BackoffOptions;
  link?: LinkFactoryOptions;
  /** For tests: the clock and randomness of the reconnect backoff. */
  timers?: Timers;
  random?: () => number;
}

/**
 * A QR or barcode reader that sends each scan as a line of text: USB
 * CDC-ACM and RS-232 readers (serial://), and readers behind a serial device
 * server (serial+tcp://, tcp://). URL options are described in options.ts.
 * Throws at once on a URL or option it cannot use.
 */
export function createQrLineDriver(url: string, options: QrLineDriverOptions = {}): DeviceDriver {
  const transport = parseTransportUrl(url);
  const qrOptions = parseQrLineOptions(transport);
  return new QrLineDriver(transport, qrOptions, createLinkFactory(transport, options.link), options);
}

class QrLineDriver extends EventEmitter<DriverEvents> implements DeviceDriver {
  readonly kind = 'qr-line';
  readonly capabilities: DriverCapabilities;
  readonly commands: DeviceCommands;
  private readonly recorder = new LinkStatsRecorder();
  private readonly log: Logger;
  private supervisor: LinkSupervisor | undefined;
  private session: QrLineSession | undefined;
  private closed = false;

  constructor(
    transport: TransportUrl,
    private readonly qrOptions: QrLineOptions,
    private readonly factory: ByteLinkFactory,
    private readonly driverOptions: QrLineDriverOptions,
  ) {
    super();
    this.capabilities = Object.freeze({ ...NO_CAPABILITIES, scan: true, acknowledgedDelivery: qrOptions.ackMode });
    this.commands = linkInfoCommands(this.kind, transport);
    this.log = (driverOptions.logger ?? pino({ level: 'silent' })).child({ ns: 'driver:qr' });
  }

  get state(): ConnectionState {
    return this.supervisor?.state ?? 'closed';
  }

  stats(): LinkStats {
    return this.recorder.snapshot();
  }

  async open(sink: EventSink): Promise<void> {
    if (this.supervisor || this.closed) throw new Error('a qr-line driver opens once; create a new driver to open again');
    const session = new QrLineSession({
      sink,
      stats: this.recorder,
      ackMode: this.qrOptions.ackMode,
      decoder: { maxLineBytes: this.qrOptions.maxLineBytes, prefix: this.qrOptions.prefix, aim: this.qrOptions.aim },
      log: this.log,
    });
    const { backoff, timers, random } = this.driverOptions;
    const supervisor = new LinkSupervisor({
      factory: this.factory,
      attach: (link) => session.attach(link),
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
    // The session stops delivering at once; scans still queued behind the
    // one in the sink are dropped (in ACK mode the reader still holds them).
    const sessionClosed = this.session?.close();
    await this.supervisor?.stop();
    await sessionClosed;
  }
}
