import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { keyboardReportVectors, posReportVectors, reportBytes } from '../../fixtures/frames/hid/vectors.js';
import { keyboardReports, posReports } from '../../simulators/hid/reports.js';
import { MAX_SCAN_LENGTH, createKeyboardDecoder, createPosDecoder, type HidDiscard, type KeyboardDecoderOptions, type KeyboardScan, type PosScan, type ReportDecoder } from './codec.js';
import { COMMON_POS_QUIRKS, posQuirksOf } from './quirks.js';

const honeywellLayout = posQuirksOf(0x0c2e)!.layout;

/** Pushes every report and ends the stream; drops the log-only sample. */
function decodeAll<Scan>(decoder: ReportDecoder<Scan>, reports: Uint8Array[]): Array<Scan | Omit<HidDiscard, 'sampleHex'>> {
  return [...reports.flatMap((report) => decoder.push(report)), ...decoder.end()].map((item) => {
    if ((item as HidDiscard).type !== 'discarded') return item;
    const { sampleHex: _sample, ...rest } = item as HidDiscard;
    return rest;
  });
}

const decodeKeyboard = (reports: Uint8Array[], options?: KeyboardDecoderOptions) => decodeAll(createKeyboardDecoder(options), reports);

/** POS items in the fixtures' plain-JSON form. */
function decodePos(reports: Uint8Array[], layout = honeywellLayout) {
  return decodeAll(createPosDecoder(layout), reports).map((item) =>
    item.type === 'scan'
      ? { type: 'scan', text: Buffer.from((item as PosScan).data).toString('latin1'), aimIdentifier: (item as PosScan).aimIdentifier, vendorSymbology: (item as PosScan).vendorSymbology ?? null }
      : item,
  );
}

const payloads = (items: Array<{ type: string }>) => items.flatMap((item) => (item.type === 'scan' ? [(item as KeyboardScan).payload] : []));
const report = (...bytes: number[]) => Uint8Array.from(bytes);
const RELEASE = report(0, 0, 0, 0, 0, 0, 0, 0);
const ENTER = [report(0, 0, 0x28, 0, 0, 0, 0, 0), RELEASE];

/** Printable ASCII, which a US-layout wedge can type. */
const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)), minLength: 1, maxLength: 80 });
/** Any report, of the lengths that matter most (keyboard, keyboard with id, POS) and others. */
const anyReport = fc.oneof(
  fc.uint8Array({ minLength: 8, maxLength: 8 }),
  fc.uint8Array({ minLength: 9, maxLength: 9 }),
  fc.uint8Array({ minLength: 64, maxLength: 64 }),
  fc.uint8Array({ minLength: 0, maxLength: 80 }),
);

describe('golden vectors (fixtures/frames/hid)', () => {
  for (const vector of keyboardReportVectors()) {
    test(`keyboard: ${vector.name}`, () => {
      assert.deepEqual(decodeKeyboard(reportBytes(vector), vector.decoder), vector.expect);
    });
  }

  for (const vector of posReportVectors()) {
    test(`HID POS: ${vector.name}`, () => {
      const layout = (posQuirksOf(vector.vendorId) ?? COMMON_POS_QUIRKS).layout;
      assert.deepEqual(decodePos(reportBytes(vector), layout), vector.expect);
    });
  }
});

describe('keyboard decoder', () => {
  test('a repeated character without the release report between reads once, as on a real host', () => {
    assert.deepEqual(payloads(decodeKeyboard([...keyboardReports('aab', { releaseBetweenKeys: false })])), ['ab']);
  });

  test('a scan longer than the limit is discarded whole and the next scan is decoded', () => {
    const long = 'A'.repeat(MAX_SCAN_LENGTH + 5);
    const reports = [...keyboardReports(long, { releaseBetweenKeys: true }), ...keyboardReports('2025CS001')];
    assert.deepEqual(decodeKeyboard(reports), [
      { type: 'discarded', reason: 'too-long', length: long.length },
      { type: 'scan', payload: '2025CS001' },
    ]);
  });

  test('a scan cut off by the end of the stream is reported incomplete, never delivered', () => {
    assert.deepEqual(decodeKeyboard(keyboardReports('2025', { terminator: 'none' })), [{ type: 'discarded', reason: 'incomplete', length: 4 }]);
  });

  test('after end() the decoder starts afresh, with no key taken as held', () => {
    const decoder = createKeyboardDecoder();
    decoder.push(report(0, 0, 0x04, 0, 0, 0, 0, 0));
    decoder.end();
    assert.deepEqual(payloads(decodeAll(decoder, [report(0, 0, 0x04, 0, 0, 0, 0, 0), ...ENTER])), ['a']);
  });
});

describe('HID POS decoder', () => {
  test('a scan that holds nothing once its CR is removed is discarded as empty', () => {
    assert.deepEqual(decodePos(posReports('\r')), [{ type: 'discarded', reason: 'empty', length: 1 }]);
  });

  test('a scan whose last report never came is reported incomplete at the end of the stream', () => {
    const [first] = posReports('X'.repeat(80));
    assert.deepEqual(decodePos([first!]), [{ type: 'discarded', reason: 'incomplete', length: 56 }]);
  });

  test('a barcode longer than the limit is discarded whole and the next scan is decoded', () => {
    const reports = [...posReports('9'.repeat(MAX_SCAN_LENGTH + 100)), ...posReports('2025CS001')];
    const items = decodePos(reports);
    assert.deepEqual(items[0], { type: 'discarded', reason: 'too-long', length: MAX_SCAN_LENGTH + 100 });
    assert.deepEqual(items.slice(1), [{ type: 'scan', text: '2025CS001', aimIdentifier: ']Q1', vendorSymbology: 0 }]);
  });

  test('a report too short for the layout is discarded as malformed', () => {
    assert.deepEqual(decodePos([report(0x02, 3, 0x5d, 0x51, 0x31, 0x41, 0x42, 0x43)]), [{ type: 'discarded', reason: 'malformed', length: 8 }]);
  });
});

describe('properties', () => {
  test('any sequence of reports is decoded without throwing, in both modes', () => {
    fc.assert(
      fc.property(fc.array(anyReport, { maxLength: 60 }), fc.boolean(), (reports, tabEndsScan) => {
        const items = [...decodeKeyboard(reports, { tabEndsScan }), ...decodePos(reports), ...decodePos(reports, COMMON_POS_QUIRKS.layout)];
        for (const item of items) assert.ok(item.type === 'scan' || ('length' in item && item.length >= 0));
      }),
      { numRuns: 500 },
    );
  });

  test('any printable ASCII text typed by the simulated wedge decodes back to itself', () => {
    fc.assert(
      fc.property(
        printable,
        fc.constantFrom('left', 'right'),
        fc.option(fc.integer({ min: 1, max: 255 }), { nil: undefined }),
        fc.constantFrom('enter', 'keypad-enter', 'tab'),
        (text, shift, reportId, terminator) => {
          const reports = keyboardReports(text, { shift, reportId, terminator });
          assert.deepEqual(decodeKeyboard(reports, { tabEndsScan: terminator === 'tab' }), [{ type: 'scan', payload: text }]);
        },
      ),
    );
  });

  test('any barcode bytes sent in HID POS reports decode back to themselves, over as many reports as they need', () => {
    const barcode = fc.uint8Array({ minLength: 1, maxLength: 400 }).filter((bytes) => bytes.at(-1) !== 0x0d && bytes.at(-1) !== 0x0a);
    fc.assert(
      fc.property(barcode, fc.constantFrom<1 | 2>(1, 2), fc.integer({ min: 0, max: 255 }), (bytes, aimOffset, vendorSymbology) => {
        const [scan, ...rest] = decodeAll(createPosDecoder(honeywellLayout), posReports(bytes, { aimOffset, vendorSymbology, aimIdentifier: ']d2' }));
        assert.deepEqual(rest, []);
        assert.deepEqual(scan, { type: 'scan', data: bytes, aimIdentifier: ']d2', vendorSymbology });
      }),
    );
  });

  test('after any garbage, the first scan after the next release and Enter is decoded exactly', () => {
    fc.assert(
      fc.property(fc.array(anyReport, { maxLength: 30 }), printable, (garbage, text) => {
        // The release first, so that an Enter the garbage left held is pressed anew.
        const reports = [...garbage, RELEASE, ...ENTER, ...keyboardReports(text)];
        assert.deepEqual(decodeKeyboard(reports).at(-1), { type: 'scan', payload: text });
      }),
    );
  });

  test('after any garbage, the scan after the next complete HID POS scan is decoded exactly', () => {
    fc.assert(
      fc.property(fc.array(anyReport, { maxLength: 30 }), printable, (garbage, text) => {
        const reports = [...garbage, ...posReports('SYNC'), ...posReports(text)];
        assert.deepEqual(decodePos(reports).at(-1), { type: 'scan', text, aimIdentifier: ']Q1', vendorSymbology: 0 });
      }),
    );
  });
});
