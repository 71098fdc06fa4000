import { EventEmitter } from 'node:events';
import type { ByteLink, ByteLinkEvents, ByteLinkFactory } from './link.js';

/**
 * USB HID devices through node-hid. A HID link is a ByteLink whose `data`
 * events each carry exactly one whole input report (report id first when the
 * device numbers its reports), because node-hid hands them over that way;
 * its readers may rely on report boundaries, unlike on TCP or serial.
 *
 * node-hid has no attach or detach events (node-hid #199, #520): an unplugged
 * device shows up as a read error, after which node-hid stops reading. The
 * link then closes with that error and the LinkSupervisor opens a fresh one
 * (attendance-domain.md §14).
 */

/** What the link needs of one device list entry: node-hid's `Device`. */
export interface HidDeviceInfo {
  vendorId: number;
  productId: number;
  path?: string | undefined;
  serialNumber?: string | undefined;
  usagePage?: number | undefined;
  usage?: number | undefined;
}

/** What the link needs of an open device: node-hid's `HIDAsync`. */
export interface HidDevice {
  on(event: 'data', listener: (report: Buffer) => void): unknown;
  /** node-hid passes the read error as a string, not an Error. */
  on(event: 'error', listener: (error: unknown) => void): unknown;
  write(report: number[] | Buffer): Promise<number>;
  sendFeatureReport(report: number[] | Buffer): Promise<number>;
  close(): Promise<void>;
}

/**
 * The part of the node-hid module the link uses, so that tests and the
 * simulator can stand in for it: `HID.devicesAsync(vid, pid)` and
 * `HID.HIDAsync.open(path)`.
 */
export interface HidDeviceOpener {
  devicesAsync(vendorId: number, productId: number): Promise<HidDeviceInfo[]>;
  HIDAsync: { open(path: string): Promise<HidDevice> };
}

/** A top-level collection: which interface of a device to open. */
export interface HidUsage {
  page: number;
  id: number;
}

export interface HidLinkOptions {
  vendorId: number;
  productId: number;
  /** Picks one of several devices with the same ids. */
  serialNumber?: string;
  /**
   * The collection to open when the device has several (a scanner can offer a
   * keyboard and a POS interface at once). When no entry has it, an entry
   * without a usage page (absent or 0) is taken on its ids alone, since
   * nothing better is known of it.
   */
  usage?: HidUsage;
  /** Feature reports to send, report id first, after each open and before reading starts. */
  featureReports?: ReadonlyArray<readonly number[]>;
  /** node-hid, or a stand-in with its shape. Default: node-hid, imported at the first open. */
  opener?: HidDeviceOpener;
}

export class HidUnavailableError extends Error {
  override readonly name = 'HidUnavailableError';
}

/** `hid://0c2e:0b61/SERIAL`, for logs. */
function describeHidDevice(options: Pick<HidLinkOptions, 'vendorId' | 'productId' | 'serialNumber'>): string {
  const hex = (id: number) => id.toString(16).padStart(4, '0');
  return `hid://${hex(options.vendorId)}:${hex(options.productId)}${options.serialNumber ? `/${encodeURIComponent(options.serialNumber)}` : ''}`;
}

/** Finds and opens the device afresh on every call, so a scanner that was unplugged and came back under a new path is found again. */
export function hidLinkFactory(options: HidLinkOptions): ByteLinkFactory {
  return () => openHidLink(options);
}

async function openHidLink(options: HidLinkOptions): Promise<ByteLink> {
  const description = describeHidDevice(options);
  const opener = options.opener ?? (await loadNodeHid());
  const path = pickPath(await opener.devicesAsync(options.vendorId, options.productId), options, description);
  let device: HidDevice;
  try {
    device = await opener.HIDAsync.open(path);
  } catch (error) {
    throw new Error(`${description}: cannot open ${path}: ${messageOf(error)} (on Linux, check the udev rule for hidraw access)`, { cause: error });
  }
  try {
    for (const report of options.featureReports ?? []) await device.sendFeatureReport([...report]);
  } catch (error) {
    await device.close().catch(() => {});
    throw new Error(`${description}: feature report refused: ${messageOf(error)}`, { cause: error });
  }
  return new HidLink(device, description);
}

function pickPath(devices: HidDeviceInfo[], options: HidLinkOptions, description: string): string {
  const candidates = devices.filter(
    (device) =>
      device.vendorId === options.vendorId &&
      device.productId === options.productId &&
      device.path !== undefined &&
      (options.serialNumber === undefined || device.serialNumber === options.serialNumber),
  );
  const { usage } = options;
  const chosen = usage
    ? (candidates.find((device) => device.usagePage === usage.page && device.usage === usage.id) ?? candidates.find((device) => !device.usagePage))
    : candidates[0];
  if (chosen?.path !== undefined) return chosen.path;
  if (candidates.length === 0) throw new Error(`${description}: no such HID device (unplugged, or no access to it)`);
  const found = candidates.map((device) => `0x${hex2(device.usagePage)}/0x${hex2(device.usage)}`).join(', ');
  throw new Error(`${description}: no interface with usage page 0x${hex2(usage!.page)}, usage 0x${hex2(usage!.id)} (found ${found}); is the scanner in the right mode?`);
}

class HidLink extends EventEmitter<ByteLinkEvents> implements ByteLink {
  private ended: Promise<void> | undefined;

  constructor(
    private readonly device: HidDevice,
    readonly description: string,
  ) {
    super();
    // node-hid starts reading once a data listener exists, and keeps no buffer of its own.
    device.on('data', (report) => {
      if (!this.ended) this.emit('data', report);
    });
    device.on('error', (error) => void this.end(new Error(`${description}: ${messageOf(error)} (unplugged?)`)));
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (this.ended) throw new Error(`${this.description}: link is closed`);
    await this.device.write(Buffer.from(bytes));
  }

  close(): Promise<void> {
    return this.end(undefined);
  }

  private end(failure: Error | undefined): Promise<void> {
    this.ended ??= this.device
      .close()
      // After a read error the handle may already be unusable; it is released either way.
      .catch(() => {})
      .then(() => {
        this.emit('close', failure);
      });
    return this.ended;
  }
}

let nodeHid: Promise<HidDeviceOpener> | undefined;

/**
 * Imports node-hid and loads its native library, once. Only HID devices need
 * it, so a host where it cannot load (node-hid 3.x on Linux links
 * libusb-1.0, even for hidraw; §5.1) loses only those. A failure is not
 * remembered: installing the library fixes the next attempt.
 */
export function loadNodeHid(): Promise<HidDeviceOpener> {
  nodeHid ??= import('node-hid')
    .then((module) => {
      // node-hid loads its binding at first use; this makes that use happen here.
      module.getHidapiVersion();
      return module;
    })
    .catch((error: unknown) => {
      nodeHid = undefined;
      throw new HidUnavailableError(`node-hid cannot load its native library: ${messageOf(error)}; HID devices need libusb-1.0 (Debian: libusb-1.0-0)`, { cause: error });
    });
  return nodeHid;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function hex2(value: number | undefined): string {
  return (value ?? 0).toString(16).padStart(2, '0');
}
