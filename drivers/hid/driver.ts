import type { Logger } from 'pino';
import { linkInfoCommands } from '../core/commands.js';
import { NO_CAPABILITIES, type DeviceDriver } from '../core/driver.js';
import { hidLinkFactory, type HidDeviceOpener, type HidLinkOptions } from '../core/hid.js';
import { createScanReaderDriver, type ScanReaderDriverOptions, type ScanReading } from '../core/scanReader.js';
import type { ScanDecoder, ScanItem } from '../core/scanSession.js';
import { TransportUrlError, parseTransportUrl } from '../core/transportUrl.js';
import { splitNoise } from '../qr/codec.js';
import { createKeyboardDecoder, createPosDecoder, type HidDiscard, type KeyboardScan, type PosScan, type ReportDecoder } from './codec.js';
import { parseHidScannerOptions, type HidScannerOptions } from './options.js';
import { COMMON_POS_QUIRKS, posQuirksOf } from './quirks.js';

/** Settings that are not part of the device URL; every field is optional. */
export interface HidScannerDriverOptions extends ScanReaderDriverOptions {
  /** node-hid, or a stand-in with its shape (tests, simulators/hid). Default: node-hid, imported at the first open. */
  opener?: HidDeviceOpener;
}

/** Generic Desktop page, Keyboard (device-protocols.md §5.1). */
const KEYBOARD_USAGE = { page: 0x01, id: 0x06 } as const;
/** Bar Code Scanner page, Bar Code Scanner (§5.2). */
const POS_USAGE = { page: 0x8c, id: 0x02 } as const;
/** Dropped bytes shown in a trace log, as the decoders show them. */
const SAMPLE_BYTES = 32;

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
  const device = { vendorId: transport.vendorId, productId: transport.productId, serialNumber: transport.serialNumber, opener: options.opener };
  return createScanReaderDriver(
    {
      kind: 'hid-scanner',
      capabilities: Object.freeze({ ...NO_CAPABILITIES, scan: true }),
      commands: linkInfoCommands('hid-scanner', transport),
      logNamespace: 'driver:hid',
      reading: (log) => hidReading(device, scannerOptions, log),
    },
    options,
  );
}

type HidDevice = Pick<HidLinkOptions, 'vendorId' | 'productId' | 'serialNumber' | 'opener'>;

/** Which interface to open, what to send it first, and how to read its reports. */
function hidReading(device: HidDevice, scannerOptions: HidScannerOptions, log: Logger): ScanReading {
  if (scannerOptions.mode === 'keyboard') {
    const { tabEndsScan } = scannerOptions;
    return {
      factory: hidLinkFactory({ ...device, usage: KEYBOARD_USAGE }),
      createDecoder: () => scanDecoderOf(createKeyboardDecoder({ tabEndsScan }), log),
    };
  }
  const known = posQuirksOf(device.vendorId);
  if (!known) log.info({ vendorId: device.vendorId }, 'no HID POS quirks for this vendor; using the common report layout (device-protocols.md §5.2, §6)');
  const { layout, enableFeatureReport } = known ?? COMMON_POS_QUIRKS;
  return {
    factory: hidLinkFactory({ ...device, usage: POS_USAGE, featureReports: enableFeatureReport ? [enableFeatureReport] : [] }),
    createDecoder: () => scanDecoderOf(createPosDecoder(layout), log),
  };
}

function scanDecoderOf(reports: ReportDecoder<KeyboardScan | PosScan>, log: Logger): ScanDecoder {
  const toScanItems = (items: Array<KeyboardScan | PosScan | HidDiscard>) => items.flatMap((item) => scanItemsOf(item, log));
  return {
    push: (report) => toScanItems(reports.push(report)),
    end: () => toScanItems(reports.end()),
  };
}

/**
 * HID POS barcode bytes become text as a serial reader's line does: control
 * bytes and invalid UTF-8 are dropped as noise. That includes a CR or LF
 * inside the barcode, which a keyboard-wedge or serial reader would have
 * sent as two scans.
 */
function scanItemsOf(item: KeyboardScan | PosScan | HidDiscard, log: Logger): ScanItem[] {
  if (item.type === 'discarded' || !('data' in item)) return [item];
  log.debug({ aim: item.aimIdentifier, vendorSymbology: item.vendorSymbology, length: item.data.length }, 'HID POS scan');
  const { kept, noise } = splitNoise(item.data);
  const items: ScanItem[] = [];
  if (noise.length > 0) items.push({ type: 'discarded', reason: 'noise', length: noise.length, sampleHex: Buffer.from(noise.subarray(0, SAMPLE_BYTES)).toString('hex') });
  const payload = new TextDecoder('utf-8').decode(kept);
  if (payload !== '') items.push({ type: 'scan', payload });
  return items;
}
