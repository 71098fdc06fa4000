/**
 * Input-report decoding of USB HID barcode scanners:
 *   - keyboard wedge: boot keyboard reports, US layout (device-protocols.md §5.1);
 *   - HID POS: scanned-data reports of usage page 0x8C (§5.2), in a vendor
 *     layout from quirks.ts.
 *
 * Pure functions only: no I/O, no timers, no logging. Each decoder takes one
 * whole input report at a time, as node-hid delivers them (report id first
 * when the device numbers its reports), keeps what a scan needs between
 * reports, and never throws on any input.
 */
import { DEFAULT_MAX_LINE_BYTES } from '../qr/codec.js';

/**
 * Longest scan kept, in characters (keyboard) or bytes (POS): the same bound
 * as a serial reader's line, so a code reads alike on either.
 */
export const MAX_SCAN_LENGTH = DEFAULT_MAX_LINE_BYTES;

export type HidDiscardReason =
  /**
   * A report that does not fit its layout: a keyboard report not 8 bytes long
   * (9 with a report id); a POS report too short, without its AIM identifier,
   * or with a count that runs into the trailer.
   */
  | 'malformed'
  /** A keyboard report in the error state: key slots holding ErrorRollOver (0x01), POSTFail (0x02) or ErrorUndefined (0x03). */
  | 'rollover'
  /** A key that types nothing printable in the US layout (Escape, F-keys, Ctrl+letter); the key alone is dropped. */
  | 'unmapped-key'
  /** A POS report with another report id than scanned data, e.g. a status report. */
  | 'other-report'
  /** A POS scan that held nothing once its terminator was removed. */
  | 'empty'
  /** A scan longer than MAX_SCAN_LENGTH; dropped whole when it ends. */
  | 'too-long'
  /** A partial scan left when the stream ended (the device went away mid-scan). */
  | 'incomplete';

export interface HidDiscard {
  type: 'discarded';
  reason: HidDiscardReason;
  /** Report bytes dropped: a whole report, one key usage, or the scan's characters. */
  length: number;
  /** Hex of at most the first 32 dropped bytes, for trace logs. */
  sampleHex: string;
}

export interface KeyboardScan {
  type: 'scan';
  /** Printable ASCII, terminator excluded. */
  payload: string;
}

export interface PosScan {
  type: 'scan';
  /** The barcode bytes of every report of the scan, a trailing CR, LF or CR LF removed. */
  data: Uint8Array;
  /** The AIM symbology identifier of the first report, e.g. `]Q1`. */
  aimIdentifier: string;
  /** The vendor's own symbology code (Honeywell byte 60, e.g. 0x73 QR), where the layout has one. */
  vendorSymbology: number | undefined;
}

export interface ReportDecoder<Scan> {
  /** Decodes the next input report; returns what it completed, in order. */
  push(report: Uint8Array): Array<Scan | HidDiscard>;
  /** Ends the stream: a partial scan becomes an `incomplete` discard, and the decoder starts afresh. */
  end(): Array<Scan | HidDiscard>;
}

// ---------------------------------------------------------------------------
// Keyboard wedge (§5.1)

const BOOT_REPORT_LENGTH = 8;
const KEY_SLOTS_START = 2;
const KEY_ENTER = 0x28;
const KEY_TAB = 0x2b;
const KEYPAD_ENTER = 0x58;
const FIRST_MODIFIER_KEY = 0xe0;
const LAST_MODIFIER_KEY = 0xe7;
/** ErrorRollOver, POSTFail, ErrorUndefined (HID Usage Tables, Keyboard page). */
const LAST_ERROR_USAGE = 0x03;
const SHIFT_BITS = 0x02 | 0x20;
/** Ctrl, Alt and GUI, left and right: with any of them held a key is a shortcut, not a character. */
const SHORTCUT_BITS = 0xff & ~SHIFT_BITS;

/** [unshifted, shifted] per usage, US layout (§5.1 usage and shift tables). */
const US_LAYOUT: ReadonlyMap<number, readonly [string, string]> = new Map([
  ...[...'abcdefghijklmnopqrstuvwxyz'].map((letter, index) => [0x04 + index, [letter, letter.toUpperCase()]] as const),
  ...[...'1234567890'].map((digit, index) => [0x1e + index, [digit, '!@#$%^&*()'[index]!]] as const),
  [0x2c, [' ', ' ']],
  [0x2d, ['-', '_']],
  [0x2e, ['=', '+']],
  [0x2f, ['[', '{']],
  [0x30, [']', '}']],
  [0x31, ['\\', '|']],
  // 0x32, "non-US #", is left out on purpose: tinyusb types '#' for it, while
  // Linux and Windows treat it as the backslash key. A US-layout scanner never
  // sends it, so seeing it means the scanner's layout is not US.
  [0x33, [';', ':']],
  [0x34, ["'", '"']],
  [0x35, ['`', '~']],
  [0x36, [',', '<']],
  [0x37, ['.', '>']],
  [0x38, ['/', '?']],
]);

/** Keypad keys, for scanners set to type digits on the numeric keypad. Num Lock is taken to be on. */
const KEYPAD_OPERATORS: ReadonlyMap<number, string> = new Map([
  [0x54, '/'],
  [0x55, '*'],
  [0x56, '-'],
  [0x57, '+'],
]);
/** Keypad 1–9, 0 and '.'; with Shift held they are navigation keys (tinyusb's table agrees). */
const KEYPAD_DIGITS: ReadonlyMap<number, string> = new Map([...'1234567890.'].map((character, index) => [0x59 + index, character]));

export interface KeyboardDecoderOptions {
  /** Also end a scan at Tab, for readers set to a Tab suffix. Enter and keypad Enter always end one. Default false. */
  tabEndsScan?: boolean;
}

/**
 * Keystrokes from boot keyboard reports. A key counts in the report where it
 * first appears, not while it stays held, so a scanner's press report and
 * all-zero release report make one character; the same character twice
 * needs the release in between. Case comes from Shift alone: the host's
 * Caps Lock state is not assumed, because hidraw reads the scanner's own
 * reports, before any host keymap.
 */
export function createKeyboardDecoder(options: KeyboardDecoderOptions = {}): ReportDecoder<KeyboardScan> {
  let held = new Set<number>();
  let characters = '';
  let overflowed = 0;

  function endScan(items: Array<KeyboardScan | HidDiscard>): void {
    if (overflowed > 0) items.push(discarded('too-long', characters.length + overflowed, asciiHex(characters)));
    else if (characters !== '') items.push({ type: 'scan', payload: characters });
    characters = '';
    overflowed = 0;
  }

  function keyDown(usage: number, modifiers: number, items: Array<KeyboardScan | HidDiscard>): void {
    if (usage === KEY_ENTER || usage === KEYPAD_ENTER || (usage === KEY_TAB && options.tabEndsScan)) {
      endScan(items);
      return;
    }
    const character = usCharacter(usage, modifiers);
    if (character === undefined) {
      items.push(discarded('unmapped-key', 1, hexOf([usage])));
    } else if (characters.length + overflowed >= MAX_SCAN_LENGTH) {
      overflowed++;
    } else {
      characters += character;
    }
  }

  return {
    push(report) {
      const body = bootReportBody(report);
      if (!body) return [discarded('malformed', report.length, hexOf(report))];
      const slots = body.subarray(KEY_SLOTS_START);
      if (slots.some((usage) => usage !== 0 && usage <= LAST_ERROR_USAGE)) {
        // The keyboard cannot tell which keys are down; the next normal report says.
        return [discarded('rollover', report.length, hexOf(report))];
      }
      let modifiers = body[0]!;
      const pressed = new Set<number>();
      const items: Array<KeyboardScan | HidDiscard> = [];
      for (const usage of slots) {
        if (usage >= FIRST_MODIFIER_KEY && usage <= LAST_MODIFIER_KEY) modifiers |= 1 << (usage - FIRST_MODIFIER_KEY);
        else if (usage !== 0) pressed.add(usage);
      }
      for (const usage of pressed) {
        if (!held.has(usage)) keyDown(usage, modifiers, items);
      }
      held = pressed;
      return items;
    },
    end() {
      const items: Array<KeyboardScan | HidDiscard> = [];
      if (characters !== '' || overflowed > 0) items.push(discarded('incomplete', characters.length + overflowed, asciiHex(characters)));
      characters = '';
      overflowed = 0;
      held = new Set();
      return items;
    },
  };
}

/** The 8 bytes of a boot keyboard report, with or without a leading report id; undefined for any other length. */
function bootReportBody(report: Uint8Array): Uint8Array | undefined {
  if (report.length === BOOT_REPORT_LENGTH) return report;
  if (report.length === BOOT_REPORT_LENGTH + 1) return report.subarray(1);
  return undefined;
}

function usCharacter(usage: number, modifiers: number): string | undefined {
  if ((modifiers & SHORTCUT_BITS) !== 0) return undefined;
  const shifted = (modifiers & SHIFT_BITS) !== 0;
  const pair = US_LAYOUT.get(usage);
  if (pair) return pair[shifted ? 1 : 0];
  return KEYPAD_OPERATORS.get(usage) ?? (shifted ? undefined : KEYPAD_DIGITS.get(usage));
}

// ---------------------------------------------------------------------------
// HID POS scanned-data reports (§5.2)

/**
 * Where a vendor puts the fields of its scanned-data report. Offsets count
 * from the byte after the report id, as in the §5.2 table; node-hid buffers
 * start with the report id, so the decoder adds 1.
 */
export interface PosReportLayout {
  /** Input report id of scanned-data reports. */
  reportId: number;
  /** Offset of the count of barcode bytes in this report. */
  countOffset: number;
  /** Offsets where the AIM identifier (`]` + 2 characters) may start, tried in order; the barcode bytes follow it. */
  aimOffsets: readonly number[];
  /** Offset of the vendor's own symbology code, or undefined where the vendor has none. */
  vendorSymbologyOffset: number | undefined;
  /** Offset of the flag that is non-zero while more reports of the same scan follow. */
  moreFollowsOffset: number;
}

const AIM_FLAG = 0x5d; // ']'
const AIM_LENGTH = 3;
const CR = 0x0d;
const LF = 0x0a;

/**
 * Scans from scanned-data reports: the barcode bytes of each report are
 * appended until one arrives whose "more follows" flag is 0. The count byte
 * is taken as the number of barcode bytes after the AIM identifier, which the
 * Honeywell capture in fixtures/frames/hid bears out; §6 lists it as open for
 * other vendors.
 */
export function createPosDecoder(layout: PosReportLayout): ReportDecoder<PosScan> {
  // Barcode bytes end where the first trailer field begins.
  const dataLimit = Math.min(layout.vendorSymbologyOffset ?? layout.moreFollowsOffset, layout.moreFollowsOffset);
  const minimumLength = 1 + Math.max(layout.countOffset, layout.moreFollowsOffset, layout.vendorSymbologyOffset ?? 0, ...layout.aimOffsets) + 1;
  let parts: Uint8Array[] = [];
  let length = 0;
  let overflowed = 0;
  let first: { aimIdentifier: string; vendorSymbology: number | undefined } | undefined;

  function reset(): void {
    parts = [];
    length = 0;
    overflowed = 0;
    first = undefined;
  }

  function finish(): PosScan | HidDiscard {
    const { aimIdentifier, vendorSymbology } = first!;
    const data = withoutTrailingLineEnd(concat(parts, length));
    const total = length + overflowed;
    const tooLong = overflowed > 0;
    reset();
    if (tooLong) return discarded('too-long', total, hexOf(data));
    if (data.length === 0) return discarded('empty', total, '');
    return { type: 'scan', data, aimIdentifier, vendorSymbology };
  }

  return {
    push(report) {
      if (report[0] !== layout.reportId) return [discarded('other-report', report.length, hexOf(report))];
      if (report.length < minimumLength) return [discarded('malformed', report.length, hexOf(report))];
      const body = report.subarray(1);
      const aimOffset = layout.aimOffsets.find((offset) => body[offset] === AIM_FLAG);
      if (aimOffset === undefined) return [discarded('malformed', report.length, hexOf(report))];
      const dataStart = aimOffset + AIM_LENGTH;
      const count = body[layout.countOffset]!;
      if (dataStart + count > dataLimit) return [discarded('malformed', report.length, hexOf(report))];
      first ??= {
        aimIdentifier: String.fromCharCode(...body.subarray(aimOffset, dataStart)),
        vendorSymbology: layout.vendorSymbologyOffset === undefined ? undefined : body[layout.vendorSymbologyOffset],
      };
      const kept = Math.min(count, MAX_SCAN_LENGTH - length);
      parts.push(body.slice(dataStart, dataStart + kept));
      length += kept;
      overflowed += count - kept;
      return body[layout.moreFollowsOffset] === 0 ? [finish()] : [];
    },
    end() {
      if (!first) return [];
      const total = length + overflowed;
      const sample = hexOf(concat(parts, length));
      reset();
      return [discarded('incomplete', total, sample)];
    },
  };
}

function withoutTrailingLineEnd(data: Uint8Array): Uint8Array {
  let end = data.length;
  if (data[end - 1] === LF) end--;
  if (data[end - 1] === CR) end--;
  return data.subarray(0, end);
}

function concat(parts: Uint8Array[], length: number): Uint8Array {
  const joined = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    joined.set(part, offset);
    offset += part.length;
  }
  return joined;
}

// ---------------------------------------------------------------------------

const SAMPLE_BYTES = 32;

function discarded(reason: HidDiscardReason, length: number, sampleHex: string): HidDiscard {
  return { type: 'discarded', reason, length, sampleHex };
}

function hexOf(bytes: ArrayLike<number>): string {
  let hex = '';
  for (let index = 0; index < Math.min(bytes.length, SAMPLE_BYTES); index++) hex += bytes[index]!.toString(16).padStart(2, '0');
  return hex;
}

function asciiHex(text: string): string {
  return hexOf([...text.slice(0, SAMPLE_BYTES)].map((character) => character.charCodeAt(0)));
}
