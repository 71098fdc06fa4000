/**
 * A simulated USB HID barcode scanner behind a stand-in for the node-hid
 * module: `simulatedNodeHid(scanner)` has node-hid's `devicesAsync(vid, pid)`
 * and `HIDAsync.open(path)`, and an open handle behaves like node-hid's
 * `HIDAsync` as far as a reader sees it:
 *   - each input report is one `data` event (a Buffer), delivered only while
 *     a `data` listener exists, since node-hid keeps no buffer;
 *   - an unplugged device surfaces as one `error` event carrying a string,
 *     "could not read from HID device", after which nothing more is read
 *     (node-hid has no detach event; attendance-domain.md §14);
 *   - after a replug the device is listed again under a new path, as hidraw
 *     numbers it afresh.
 */
import { EventEmitter } from 'node:events';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { keyboardReports, posReports, type PosReportOptions, type WedgeTypingOptions } from './reports.js';

/** One entry of the device list, shaped like node-hid's `Device`. */
export interface SimulatedHidDeviceInfo {
  vendorId: number;
  productId: number;
  path: string;
  serialNumber: string | undefined;
  manufacturer: string;
  product: string;
  release: number;
  interface: number;
  usagePage: number;
  usage: number;
}

/**
 * Fault switches; each can be combined with the others and changed at any
 * time through `scanner.faults`.
 */
export interface HidScannerFaults {
  /**
   * Keyboard mode: leave out the all-zero release report between keys, as
   * some wedge firmware does when typing fast. A host then reads a repeated
   * character once (default false).
   */
  dropReleaseReports: boolean;
  /** A report sent before each scan's reports, such as a garbage or rollover report (default none). */
  reportBeforeScan: Uint8Array | undefined;
}

export interface HidScannerSimulatorOptions {
  /** keyboard: a wedge (usage page 0x01, usage 0x06); pos: HID POS (usage page 0x8C, usage 0x02). Default keyboard. */
  mode?: 'keyboard' | 'pos';
  /** Default 0x0c2e (Honeywell). */
  vendorId?: number;
  /** Default 0x0b61. */
  productId?: number;
  /** Default none, as many cheap scanners have. */
  serialNumber?: string;
  keyboard?: WedgeTypingOptions;
  pos?: PosReportOptions;
  /**
   * Feature report, report id first, that the scanner waits for after each
   * open before it sends anything; until then its scans are lost. Honeywell
   * and Youjie in HID POS mode wait for FE 01 (device-protocols.md §5.2).
   * Default none.
   */
  enableReport?: readonly number[];
  faults?: Partial<HidScannerFaults>;
}

export interface HidScannerEvents {
  /** The host opened the device. */
  opened: [];
  /** The host closed its handle. */
  closed: [];
  /** A report nobody read: no open handle, no data listener, unplugged, or not enabled yet. */
  lost: [report: Uint8Array];
}

const READ_ERROR = 'could not read from HID device';

/** hidraw-style device numbers, unique in the process like the kernel's. */
let lastDeviceNumber = 0;

export class HidScannerSimulator extends EventEmitter<HidScannerEvents> {
  readonly info: Omit<SimulatedHidDeviceInfo, 'path'>;
  readonly faults: HidScannerFaults;
  /** Every feature report the host sent, report id first. */
  readonly featureReports: Buffer[] = [];
  /** Every output report the host wrote. */
  readonly outputReports: Buffer[] = [];
  private handle: SimulatedHidHandle | undefined;
  private deviceNumber = ++lastDeviceNumber;
  private present = true;
  /** Reports go out one at a time, in order, across overlapping calls. */
  private sending: Promise<void> = Promise.resolve();

  constructor(private readonly options: HidScannerSimulatorOptions = {}) {
    super();
    const pos = options.mode === 'pos';
    this.info = {
      vendorId: options.vendorId ?? 0x0c2e,
      productId: options.productId ?? 0x0b61,
      serialNumber: options.serialNumber,
      manufacturer: 'Simulated',
      product: pos ? 'HID POS scanner' : 'Keyboard wedge scanner',
      release: 0x0100,
      interface: 0,
      usagePage: pos ? 0x8c : 0x01,
      usage: pos ? 0x02 : 0x06,
    };
    this.faults = { dropReleaseReports: false, reportBeforeScan: undefined, ...options.faults };
  }

  /** Where the device is listed now; it changes on every replug. */
  get path(): string {
    return `sim:/dev/hidraw${this.deviceNumber}`;
  }

  get plugged(): boolean {
    return this.present;
  }

  /** Whether the host holds an open handle. */
  get isOpen(): boolean {
    return this.handle !== undefined;
  }

  /** Scans `code`: sends its reports, each in its own turn of the event loop; resolves once all are out. */
  scan(code: string): Promise<void> {
    const reports = this.options.mode === 'pos' ? posReports(code, this.options.pos) : keyboardReports(code, { ...this.options.keyboard, releaseBetweenKeys: !this.faults.dropReleaseReports });
    const before = this.faults.reportBeforeScan;
    return this.sendReports(before ? [before, ...reports] : reports);
  }

  /** Sends reports as they are, e.g. recorded ones or garbage; resolves once all are out. */
  sendReports(reports: readonly Uint8Array[]): Promise<void> {
    this.sending = this.sending.then(async () => {
      for (const report of reports) {
        await nextTurn();
        this.deliver(report);
      }
    });
    return this.sending;
  }

  /** Pulls the plug: an open handle gets node-hid's read error, and the device leaves the list until replug(). */
  unplug(): void {
    this.present = false;
    const handle = this.handle;
    this.handle = undefined;
    handle?.fail(READ_ERROR);
  }

  replug(): void {
    if (this.present) return;
    this.deviceNumber = ++lastDeviceNumber;
    this.present = true;
  }

  /** For the bus: opens a handle the way node-hid would. */
  open(): SimulatedHidHandle {
    if (!this.present) throw new Error('could not open device');
    if (this.handle) throw new Error('device is busy: this simulator accepts one handle at a time');
    const handle = new SimulatedHidHandle(this, this.options.enableReport === undefined);
    this.handle = handle;
    this.emit('opened');
    return handle;
  }

  /** For handles: the host sent a feature report. */
  receivedFeatureReport(handle: SimulatedHidHandle, report: Buffer): void {
    this.featureReports.push(report);
    const enable = this.options.enableReport;
    if (enable && report.length === enable.length && enable.every((byte, index) => report[index] === byte)) handle.enabled = true;
  }

  /** For handles: the host closed its handle. */
  released(handle: SimulatedHidHandle): void {
    if (this.handle !== handle) return;
    this.handle = undefined;
    this.emit('closed');
  }

  private deliver(report: Uint8Array): void {
    const handle = this.handle;
    if (!this.present || !handle?.enabled || handle.listenerCount('data') === 0) {
      this.emit('lost', report);
      return;
    }
    handle.emit('data', Buffer.from(report));
  }
}

/** An open device, shaped like node-hid's `HIDAsync`. */
export class SimulatedHidHandle extends EventEmitter {
  /** Whether the scanner sends its reports; false until the enable report arrives where one is needed. */
  enabled: boolean;
  private closed = false;
  private failed = false;

  constructor(
    private readonly scanner: HidScannerSimulator,
    enabled: boolean,
  ) {
    super();
    this.enabled = enabled;
  }

  async write(report: number[] | Buffer): Promise<number> {
    this.checkUsable();
    this.scanner.outputReports.push(Buffer.from(report));
    return report.length;
  }

  async sendFeatureReport(report: number[] | Buffer): Promise<number> {
    this.checkUsable();
    this.scanner.receivedFeatureReport(this, Buffer.from(report));
    return report.length;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.scanner.released(this);
    this.removeAllListeners();
  }

  /** For the scanner: the device went away under this handle. */
  fail(message: string): void {
    this.failed = true;
    this.emit('error', message);
  }

  private checkUsable(): void {
    if (this.closed) throw new Error('device is closed');
    if (this.failed) throw new Error('could not write to HID device');
  }
}

/** The node-hid functions a HID reader uses, over simulated scanners. */
export interface SimulatedNodeHid {
  devicesAsync(vendorId?: number, productId?: number): Promise<SimulatedHidDeviceInfo[]>;
  HIDAsync: { open(path: string): Promise<SimulatedHidHandle> };
}

export function simulatedNodeHid(...scanners: HidScannerSimulator[]): SimulatedNodeHid {
  return {
    async devicesAsync(vendorId, productId) {
      return scanners
        .filter((scanner) => scanner.plugged)
        .filter((scanner) => vendorId === undefined || (scanner.info.vendorId === vendorId && scanner.info.productId === productId))
        .map((scanner) => ({ ...scanner.info, path: scanner.path }));
    },
    HIDAsync: {
      async open(path) {
        const scanner = scanners.find((candidate) => candidate.plugged && candidate.path === path);
        if (!scanner) throw new Error('could not open device');
        return scanner.open();
      },
    },
  };
}
