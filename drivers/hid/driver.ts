import { EventEmitter } from 'node:events';
import pino, { type Logger } from 'pino';
import { linkInfoCommands, type DeviceCommands } from '../core/commands.js';
import { NO_CAPABILITIES, type ConnectionState, type DeviceDriver, type DriverCapabilities, type DriverEvents, type EventSink } from '../core/driver.js';
import { hidLinkFactory, type HidDeviceOpener, type HidLinkOptions } from '../core/hid.js';
import { LinkStatsRecorder, type LinkStats } from '../core/linkStats.js';
import { LinkSupervisor, type BackoffOptions, type Timers } from '../core/reconnect.js';
import { TransportUrlError, parseTransportUrl, type TransportUrl } from '../core/transportUrl.js';
import { QrLineSession } from '../qr/session.js';
import { createKeyboardDecoder, createPosDecoder, type KeyboardScan, type PosScan, type ReportDecoder } from './codec.js';
import { parseHidScannerOptions, type HidScannerOptions } from './options.js';
import { COMMON_POS_QUIRKS, posQuirksOf } from './quirks.js';
import { scanLineLink } from './scanLines.js';

/** Settings that are not part of the device URL; every field is optional. */
export interface HidScannerDriverOptions {
  logger?: Logger;
  /** Reconnect backoff; defaults in drivers/core/reconnect.ts. */
  backoff?: BackoffOptions;
  /** node-hid, or a stand-in with its shape (tests, simulators/hid). Default: node-hid, imported at the first open. */
  opener?: HidDeviceOpener;
  /** For tests: the clock and randomness of the reconnect backoff. */
  timers?: Timers;
  random?: () => number;
}

/** Generic Desktop page, Keyboard (device-protocols.md §5.1). */
const KEYBOARD_USAGE = { page: 0x01, id: 0x06 } as const;
/** Bar Code Scanner page, Bar Code Scanner (§5.2). */
const POS_USAGE = { page: 0x8c, id: 0x02 } as const;

/**
 * A QR or barcode reader on USB HID, addressed as `hid://vid:pid[/serial]`,
 * in keyboard-wedge or HID POS mode (URL options in options.ts). Scans reach
 * the sink in order; nothing is acknowledged to the reader, as HID has no
 * standard way to, so a scan refused by the sink is logged and gone. Throws
 * at once on a URL or option it cannot use; node-hid is only loaded when the
 * driver opens.
 */
export function createHidScannerDriver(url: string, options: HidScannerDriverOptions = {}): DeviceDriver {
  const transport = parseTransportUrl(url);
  if (transport.scheme !== 'hid') throw new TransportUrlError(`${url}: a HID scanner is addressed as hid://vid:pid[/serial]; serial and TCP readers are kind qr`);
  const scannerOptions = parseHidScannerOptions(transport);
  const device = { vendorId: transport.vendorId, productId: transport.productId, serialNumber: transport.serialNumber };
  return new HidScannerDriver(transport, device, scannerOptions, options);
}

type HidDeviceIds = Pick<HidLinkOptions, 'vendorId' | 'productId' | 'serialNumber'>;

class HidScannerDriver extends EventEmitter<DriverEvents> implements DeviceDriver {
  readonly kind = 'hid-scanner';
  readonly capabilities: DriverCapabilities = Object.freeze({ ...NO_CAPABILITIES, scan: true });
  readonly commands: DeviceCommands;
  private readonly recorder = new LinkStatsRecorder();
  private readonly log: Logger;
  private supervisor: LinkSupervisor | undefined;
  private session: QrLineSession | undefined;
  private closed = false;

  constructor(
    transport: TransportUrl,
    private readonly device: HidDeviceIds,
    private readonly scannerOptions: HidScannerOptions,
    private readonly driverOptions: HidScannerDriverOptions,
  ) {
    super();
    this.log = (driverOptions.logger ?? pino({ level: 'silent' })).child({ ns: 'driver:hid' });
    this.commands = linkInfoCommands(this.kind, transport);
  }

  get state(): ConnectionState {
    return this.supervisor?.state ?? 'closed';
  }

  stats(): LinkStats {
    return this.recorder.snapshot();
  }

  async open(sink: EventSink): Promise<void> {
    if (this.supervisor || this.closed) throw new Error('a hid-scanner driver opens once; create a new driver to open again');
    const session = new QrLineSession({ sink, stats: this.recorder, ackMode: false, decoder: {}, log: this.log });
    const { linkOptions, createDecoder } = this.reportPath();
    const { backoff, timers, random } = this.driverOptions;
    const supervisor = new LinkSupervisor({
      factory: hidLinkFactory(linkOptions),
      attach: (link) => session.attach(scanLineLink(link, createDecoder(), { stats: this.recorder, log: this.log })),
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
    // the sink are dropped, as the reader cannot be asked to send them again.
    const sessionClosed = this.session?.close();
    await this.supervisor?.stop();
    await sessionClosed;
  }

  /** Which interface to open, what to send it first, and how to read its reports. */
  private reportPath(): { linkOptions: HidLinkOptions; createDecoder: () => ReportDecoder<KeyboardScan | PosScan> } {
    const base = { ...this.device, opener: this.driverOptions.opener };
    if (this.scannerOptions.mode === 'keyboard') {
      const tabEndsScan = this.scannerOptions.tabEndsScan;
      return { linkOptions: { ...base, usage: KEYBOARD_USAGE }, createDecoder: () => createKeyboardDecoder({ tabEndsScan }) };
    }
    const known = posQuirksOf(this.device.vendorId);
    if (!known) this.log.info({ vendorId: this.device.vendorId }, 'no HID POS quirks for this vendor; using the common report layout (device-protocols.md §5.2, §6)');
    const { layout, enableFeatureReport } = known ?? COMMON_POS_QUIRKS;
    return {
      linkOptions: { ...base, usage: POS_USAGE, featureReports: enableFeatureReport ? [enableFeatureReport] : [] },
      createDecoder: () => createPosDecoder(layout),
    };
  }
}
