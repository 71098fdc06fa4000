/**
 * A virtual USB keyboard made by the Linux uhid driver: the process writes a
 * UHID_CREATE2 event to /dev/uhid, then each input report as UHID_INPUT2
 * (linux/uhid.h; Documentation/hid/uhid.rst). The kernel publishes it as a
 * hidraw device, where node-hid finds it like a plugged-in wedge scanner, so
 * a test can run the real node-hid path. Destroying it is an unplug.
 *
 * Needs write access to /dev/uhid (usually root). The kernel also hands the
 * keystrokes to the console, as with a real wedge (device-protocols.md §5.1),
 * so tests type text that a shell would take for a comment.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { keyboardReports, type WedgeTypingOptions } from './reports.js';

export const UHID_PATH = '/dev/uhid';

/** enum uhid_event_type */
const UHID_DESTROY = 1;
const UHID_CREATE2 = 11;
const UHID_INPUT2 = 12;
/** linux/input.h */
const BUS_USB = 0x03;

/** struct uhid_create2_req, packed, after the u32 event type. */
const CREATE2 = { name: 4, phys: 132, uniq: 196, rdSize: 260, bus: 262, vendor: 264, product: 268, version: 272, country: 276, rdData: 280 } as const;
const NAME_BYTES = 128;
const UNIQ_BYTES = 64;
/** struct uhid_input2_req: u16 size, then the report. */
const INPUT2_DATA = 6;

/**
 * The boot keyboard report descriptor of HID 1.11 Appendix B.1: an 8-byte
 * input report (modifier bits, a reserved byte, six key slots) and a 1-byte
 * LED output report, without report ids.
 */
const BOOT_KEYBOARD_DESCRIPTOR = Uint8Array.of(
  ...[0x05, 0x01, 0x09, 0x06, 0xa1, 0x01], // Generic Desktop, Keyboard, Application collection
  ...[0x05, 0x07, 0x19, 0xe0, 0x29, 0xe7, 0x15, 0x00, 0x25, 0x01, 0x75, 0x01, 0x95, 0x08, 0x81, 0x02], // 8 modifier bits
  ...[0x95, 0x01, 0x75, 0x08, 0x81, 0x01], // reserved byte
  ...[0x95, 0x05, 0x75, 0x01, 0x05, 0x08, 0x19, 0x01, 0x29, 0x05, 0x91, 0x02], // 5 LEDs (output)
  ...[0x95, 0x01, 0x75, 0x03, 0x91, 0x01], // LED padding
  ...[0x95, 0x06, 0x75, 0x08, 0x15, 0x00, 0x25, 0x65, 0x05, 0x07, 0x19, 0x00, 0x29, 0x65, 0x81, 0x00], // 6 key slots
  0xc0, // end collection
);

export interface UhidKeyboardOptions {
  vendorId: number;
  productId: number;
  /** Becomes the hidraw serial number (uniq), so a test can pick its own device. */
  serialNumber: string;
  name?: string;
}

export class UhidKeyboard {
  private destroyed = false;

  private constructor(private readonly file: FileHandle) {}

  static async create(options: UhidKeyboardOptions): Promise<UhidKeyboard> {
    const event = Buffer.alloc(CREATE2.rdData + BOOT_KEYBOARD_DESCRIPTOR.length);
    event.writeUInt32LE(UHID_CREATE2, 0);
    event.write((options.name ?? 'Simulated wedge scanner').slice(0, NAME_BYTES - 1), CREATE2.name, 'latin1');
    event.write(options.serialNumber.slice(0, UNIQ_BYTES - 1), CREATE2.uniq, 'latin1');
    event.writeUInt16LE(BOOT_KEYBOARD_DESCRIPTOR.length, CREATE2.rdSize);
    event.writeUInt16LE(BUS_USB, CREATE2.bus);
    event.writeUInt32LE(options.vendorId, CREATE2.vendor);
    event.writeUInt32LE(options.productId, CREATE2.product);
    event.set(BOOT_KEYBOARD_DESCRIPTOR, CREATE2.rdData);
    const file = await open(UHID_PATH, 'r+');
    try {
      await file.write(event);
    } catch (error) {
      await file.close();
      throw error;
    }
    return new UhidKeyboard(file);
  }

  /** One input report; the kernel refuses it until the device has been added. */
  async sendReport(report: Uint8Array): Promise<void> {
    const event = Buffer.alloc(INPUT2_DATA + report.length);
    event.writeUInt32LE(UHID_INPUT2, 0);
    event.writeUInt16LE(report.length, 4);
    event.set(report, INPUT2_DATA);
    await this.file.write(event);
  }

  /** Types `text` as a wedge scanner does (simulators/hid/reports.ts). */
  async type(text: string, typing?: WedgeTypingOptions): Promise<void> {
    for (const report of keyboardReports(text, typing)) await this.sendReport(report);
  }

  /** Removes the device, as if unplugged. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    const event = Buffer.alloc(4);
    event.writeUInt32LE(UHID_DESTROY, 0);
    try {
      await this.file.write(event);
    } finally {
      await this.file.close();
    }
  }
}
