/**
 * Line framing of serial QR/barcode readers (device-protocols.md §5.3): each
 * scan is the decoded text, optionally preceded by a configured prefix and an
 * AIM symbology identifier, followed by CR, CR LF or LF.
 *
 * Pure functions only: no I/O, no timers, no logging. The decoder keeps the
 * partial line between chunks and never throws on any input.
 */

const CR = 0x0d;
const LF = 0x0a;
/** Host → scanner: the last scan was accepted (ACK/NAK handshake mode of RS-232 scanners). */
export const ACK = 0x06;
/** Host → scanner: the last scan was refused; the scanner sends it again. */
export const NAK = 0x15;

export const DEFAULT_MAX_LINE_BYTES = 4096;
export const MAX_LINE_BYTES_LIMIT = 65_536;

export interface LineDecoderOptions {
  /**
   * Longest accepted line in bytes, terminator excluded (1–65536, default
   * 4096). The largest QR code holds 2953 bytes, so the default never cuts a
   * real scan; a longer line is line noise or a reader stuck without a suffix.
   */
  maxLineBytes?: number;
  /** Text the reader is configured to send before each scan; removed when present. Default: none. */
  prefix?: string;
  /** Remove a leading AIM symbology identifier (`]` + symbology + modifier, e.g. `]Q1`). Default false. */
  aim?: boolean;
}

export type DiscardReason =
  /** The line grew past `maxLineBytes`; its bytes are skipped up to the next terminator. */
  | 'too-long'
  /** Control characters and bytes that are not valid UTF-8, removed from a line. */
  | 'noise'
  /** A line that held nothing once prefix and AIM identifier were removed. */
  | 'empty'
  /** A partial line left when the stream ended. */
  | 'incomplete';

export type DecodedItem =
  | {
      type: 'scan';
      payload: string;
      /** The AIM identifier that was removed, e.g. `]Q1`; only with the `aim` option. */
      symbology?: string;
    }
  | {
      type: 'discarded';
      reason: DiscardReason;
      /** How many bytes were dropped. */
      length: number;
      /** Hex of at most the first 32 dropped bytes, for trace logs. */
      sampleHex: string;
    };

export interface LineDecoder {
  /** Feeds the next chunk; returns what it completed, in stream order. */
  push(chunk: Uint8Array): DecodedItem[];
  /** Ends the stream: a partial line becomes an `incomplete` discard. The decoder can then start afresh. */
  end(): DecodedItem[];
}

const SAMPLE_BYTES = 32;
const AIM_IDENTIFIER = /^\][A-Za-z][0-9A-Za-z]/;

export function createLineDecoder(options: LineDecoderOptions = {}): LineDecoder {
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  if (!Number.isInteger(maxLineBytes) || maxLineBytes < 1 || maxLineBytes > MAX_LINE_BYTES_LIMIT) {
    throw new RangeError(`maxLineBytes must be an integer from 1 to ${MAX_LINE_BYTES_LIMIT}, got ${maxLineBytes}`);
  }
  const textDecoder = new TextDecoder('utf-8');
  const line = new Uint8Array(maxLineBytes);
  let length = 0;
  // Once a line is too long, its bytes are counted here instead of kept.
  let overflowing = false;
  let skipped = 0;
  let skippedSample = '';

  function takeSkipped(items: DecodedItem[]): void {
    if (skipped > 0) items.push(discarded('too-long', skipped, skippedSample));
    skipped = 0;
    skippedSample = '';
  }

  function endLine(items: DecodedItem[]): void {
    if (overflowing) {
      takeSkipped(items);
      overflowing = false;
      return;
    }
    if (length === 0) return;
    const bytes = line.subarray(0, length);
    length = 0;
    const { kept, noise } = splitNoise(bytes);
    if (noise.length > 0) items.push(discarded('noise', noise.length, toHex(noise)));
    let payload = textDecoder.decode(kept);
    if (options.prefix && payload.startsWith(options.prefix)) payload = payload.slice(options.prefix.length);
    let symbology: string | undefined;
    if (options.aim && AIM_IDENTIFIER.test(payload)) {
      symbology = payload.slice(0, 3);
      payload = payload.slice(3);
    }
    if (payload === '') {
      if (kept.length > 0) items.push(discarded('empty', kept.length, toHex(kept)));
      return;
    }
    items.push(symbology === undefined ? { type: 'scan', payload } : { type: 'scan', payload, symbology });
  }

  return {
    push(chunk) {
      const items: DecodedItem[] = [];
      for (const byte of chunk) {
        // CR LF needs no case of its own: the LF ends an empty line, and empty lines are ignored.
        if (byte === CR || byte === LF) {
          endLine(items);
        } else if (overflowing) {
          if (skippedSample.length < SAMPLE_BYTES * 2) skippedSample += toHex([byte]);
          skipped++;
        } else if (length === maxLineBytes) {
          overflowing = true;
          skippedSample = toHex(line.subarray(0, Math.min(length, SAMPLE_BYTES)));
          skipped = length + 1;
          length = 0;
        } else {
          line[length++] = byte;
        }
      }
      // Reported per chunk, so a stream that never sends a terminator still shows up in the counters.
      takeSkipped(items);
      return items;
    },
    end() {
      const items: DecodedItem[] = [];
      if (length > 0) items.push(discarded('incomplete', length, toHex(line.subarray(0, length))));
      takeSkipped(items);
      length = 0;
      overflowing = false;
      return items;
    },
  };
}

export type LineTerminator = '\r' | '\r\n' | '\n';

export interface ScanLineFormat {
  prefix?: string;
  /** AIM identifier to send before the payload, e.g. `]Q1`. */
  aimIdentifier?: string;
  /** Default CR. */
  terminator?: LineTerminator;
}

/**
 * The inverse of the decoder: the bytes a reader sends for one scan. Refuses
 * payloads the line format cannot carry (empty, or holding control characters).
 */
export function encodeScanLine(payload: string, format: ScanLineFormat = {}): Uint8Array {
  if (payload === '' || hasControlCharacter(payload)) {
    throw new RangeError(`a scan line cannot carry ${JSON.stringify(payload)}: it must be non-empty text without control characters`);
  }
  return new TextEncoder().encode(`${format.prefix ?? ''}${format.aimIdentifier ?? ''}${payload}${format.terminator ?? '\r'}`);
}

function hasControlCharacter(text: string): boolean {
  for (let index = 0; index < text.length; index++) {
    if (isControl(text.charCodeAt(index))) return true;
  }
  return false;
}

// C0 controls and DEL. A GS1 code's FNC1 separator (GS, 0x1D) is dropped too;
// student codes never carry one.
function isControl(code: number): boolean {
  return code < 0x20 || code === 0x7f;
}

function discarded(reason: DiscardReason, length: number, sampleHex: string): DecodedItem {
  return { type: 'discarded', reason, length, sampleHex: sampleHex.slice(0, SAMPLE_BYTES * 2) };
}

function toHex(bytes: ArrayLike<number>): string {
  let hex = '';
  for (let index = 0; index < bytes.length; index++) hex += bytes[index]!.toString(16).padStart(2, '0');
  return hex;
}

/**
 * Separates the valid UTF-8 text of a line from its noise: control bytes and
 * bytes that are not part of a well-formed UTF-8 sequence (Unicode table 3-7).
 * Keeping the rest lets a scan that follows line noise on the same line
 * survive, which is how a reader's first scan after power-up often arrives.
 * HID POS barcode bytes pass the same checks (drivers/hid/driver.ts).
 */
export function splitNoise(bytes: Uint8Array): { kept: Uint8Array; noise: Uint8Array } {
  const kept = new Uint8Array(bytes.length);
  const noise = new Uint8Array(bytes.length);
  let keptLength = 0;
  let noiseLength = 0;
  for (let index = 0; index < bytes.length; ) {
    const size = wellFormedSequenceLength(bytes, index);
    if (size === 0 || (size === 1 && isControl(bytes[index]!))) {
      noise[noiseLength++] = bytes[index]!;
      index++;
    } else {
      kept.set(bytes.subarray(index, index + size), keptLength);
      keptLength += size;
      index += size;
    }
  }
  return { kept: kept.subarray(0, keptLength), noise: noise.subarray(0, noiseLength) };
}

/** Length of the well-formed UTF-8 sequence starting at `index`, or 0 when there is none. */
function wellFormedSequenceLength(bytes: Uint8Array, index: number): number {
  const lead = bytes[index]!;
  if (lead < 0x80) return 1;
  let size: number;
  let secondLow = 0x80;
  let secondHigh = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) size = 2;
  else if (lead >= 0xe0 && lead <= 0xef) {
    size = 3;
    if (lead === 0xe0) secondLow = 0xa0; // overlong
    if (lead === 0xed) secondHigh = 0x9f; // surrogates
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    size = 4;
    if (lead === 0xf0) secondLow = 0x90; // overlong
    if (lead === 0xf4) secondHigh = 0x8f; // above U+10FFFF
  } else return 0;
  if (index + size > bytes.length) return 0;
  const second = bytes[index + 1]!;
  if (second < secondLow || second > secondHigh) return 0;
  for (let offset = 2; offset < size; offset++) {
    const next = bytes[index + offset]!;
    if (next < 0x80 || next > 0xbf) return 0;
  }
  return size;
}
