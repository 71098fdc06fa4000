/**
 * The input reports a USB HID barcode scanner sends for one scan, written
 * from device-protocols.md §5.1 and §5.2, not from the driver: it must not
 * share a codec with the code it tests.
 */

/** Keys as a scanner presses them: [first usage, characters typed plainly, characters typed with Shift] (§5.1, US layout). */
const KEY_ROWS: ReadonlyArray<readonly [number, string, string]> = [
  [0x04, 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'],
  [0x1e, '1234567890', '!@#$%^&*()'],
  [0x2c, ' -=[]\\', ' _+{}|'],
  [0x33, ";'`,./", ':"~<>?'],
];

interface Keystroke {
  usage: number;
  shift: boolean;
}

/** How to type each printable ASCII character; the plain form wins where both exist (Space). */
const KEYSTROKES: ReadonlyMap<string, Keystroke> = (() => {
  const strokes = new Map<string, Keystroke>();
  for (const shift of [false, true]) {
    for (const [first, plain, shifted] of KEY_ROWS) {
      [...(shift ? shifted : plain)].forEach((character, index) => {
        if (!strokes.has(character)) strokes.set(character, { usage: first + index, shift });
      });
    }
  }
  return strokes;
})();

const TERMINATOR_USAGES = { enter: 0x28, 'keypad-enter': 0x58, tab: 0x2b } as const;
const LEFT_SHIFT = 0x02;
const RIGHT_SHIFT = 0x20;

export interface WedgeTypingOptions {
  /** Key pressed after the scan (default enter). */
  terminator?: keyof typeof TERMINATOR_USAGES | 'none';
  /** Which Shift key the scanner holds for upper case and symbols (default left). */
  shift?: 'left' | 'right';
  /** Report id put before every report, for scanners that number their reports (default none: plain 8-byte boot reports). */
  reportId?: number;
  /**
   * Send the all-zero release report after every key (default true). The
   * last key is always released. Without the releases a repeated character
   * is one long press, and a host reads it once.
   */
  releaseBetweenKeys?: boolean;
}

/**
 * The boot keyboard reports (§5.1) of one scan: for each character a press
 * report (modifier byte, reserved 0, the usage in the first key slot) and an
 * all-zero release report, then the terminator key the same way.
 */
export function keyboardReports(text: string, options: WedgeTypingOptions = {}): Uint8Array[] {
  const { terminator = 'enter', shift = 'left', reportId, releaseBetweenKeys = true } = options;
  const strokes = [...text].map((character) => {
    const stroke = KEYSTROKES.get(character);
    if (!stroke) throw new RangeError(`a US-layout keyboard wedge cannot type ${JSON.stringify(character)}`);
    return stroke;
  });
  if (terminator !== 'none') strokes.push({ usage: TERMINATOR_USAGES[terminator], shift: false });
  const shiftBit = shift === 'left' ? LEFT_SHIFT : RIGHT_SHIFT;
  const report = (modifiers: number, usage: number) => {
    const body = [modifiers, 0, usage, 0, 0, 0, 0, 0];
    return Uint8Array.from(reportId === undefined ? body : [reportId, ...body]);
  };
  return strokes.flatMap((stroke, index) => {
    const press = report(stroke.shift ? shiftBit : 0, stroke.usage);
    const last = index === strokes.length - 1;
    return releaseBetweenKeys || last ? [press, report(0, 0)] : [press];
  });
}

const POS_REPORT_ID = 0x02;
/** Bytes after the report id (§5.2). */
const POS_BODY_LENGTH = 63;
const SYMBOLOGY_OFFSET = 60;
const MORE_FOLLOWS_OFFSET = 62;

export interface PosReportOptions {
  /** AIM symbology identifier (default `]Q1`, QR code). */
  aimIdentifier?: string;
  /** Offset of the AIM identifier after the report id: 1 as Honeywell sends it, or 2 (§5.2; default 1). */
  aimOffset?: 1 | 2;
  /** Honeywell's own symbology code at offset 60, e.g. 0x73 QR (default 0, as vendors without one leave it). */
  vendorSymbology?: number;
  /** Text after the barcode; some scanners are set to end a scan with CR (default none). */
  suffix?: string;
}

/**
 * The scanned-data reports (§5.2) of one scan: report id 0x02, then 63
 * bytes holding the count of barcode bytes in this report, the AIM
 * identifier, the barcode bytes, the vendor symbology at 60 and the "more
 * follows" flag at 62. A barcode longer than one report fills as many as it
 * needs.
 */
export function posReports(barcode: string | Uint8Array, options: PosReportOptions = {}): Uint8Array[] {
  const { aimIdentifier = ']Q1', aimOffset = 1, vendorSymbology = 0, suffix = '' } = options;
  const text = typeof barcode === 'string' ? Buffer.from(barcode, 'utf8') : Buffer.from(barcode);
  const data = Buffer.concat([text, Buffer.from(suffix, 'latin1')]);
  const aim = Buffer.from(aimIdentifier, 'latin1');
  if (aim.length !== 3 || aim[0] !== 0x5d) throw new RangeError(`an AIM identifier is ']' and two characters, not ${JSON.stringify(aimIdentifier)}`);
  const dataStart = aimOffset + aim.length;
  const perReport = SYMBOLOGY_OFFSET - dataStart;
  const reports: Uint8Array[] = [];
  for (let offset = 0; offset === 0 || offset < data.length; offset += perReport) {
    const piece = data.subarray(offset, offset + perReport);
    const body = Buffer.alloc(POS_BODY_LENGTH);
    body[0] = piece.length;
    aim.copy(body, aimOffset);
    piece.copy(body, dataStart);
    body[SYMBOLOGY_OFFSET] = vendorSymbology;
    body[MORE_FOLLOWS_OFFSET] = offset + perReport < data.length ? 1 : 0;
    reports.push(Uint8Array.from([POS_REPORT_ID, ...body]));
  }
  return reports;
}
