/**
 * Per-vendor deviations of HID POS scanners (usage page 0x8C), keyed by USB
 * vendor id. The layout is the one device-protocols.md §5.2 describes from
 * WebHidBarcodeScanner `src/main.js` (commit 429b0d4d), which filters on
 * these four vendors; the Honeywell entry is also borne out by the captured
 * reports in fixtures/frames/hid/pos-reports.jsonl. §6 keeps the count byte
 * and the offsets of vendors other than Honeywell open, so an unknown vendor
 * gets the common layout and the driver says so in its log.
 *
 * Keyboard-wedge scanners need no entry: the boot keyboard report is fixed
 * by the HID specification.
 */
import type { PosReportLayout } from './codec.js';

export interface PosQuirks {
  layout: PosReportLayout;
  /**
   * Feature report (report id first) to send after every open, before the
   * scanner delivers scanned-data reports: Honeywell and Youjie stay silent
   * in HID POS mode until they receive FE 01 (§5.2).
   */
  enableFeatureReport: readonly number[] | undefined;
}

/** Report id 0x02; count at 0; AIM identifier at 1, or at 2 on some firmware; "more follows" at 62 (§5.2). */
const COMMON_LAYOUT: PosReportLayout = Object.freeze({
  reportId: 0x02,
  countOffset: 0,
  aimOffsets: Object.freeze([1, 2]),
  vendorSymbologyOffset: undefined,
  moreFollowsOffset: 62,
});

/** Honeywell also puts its own symbology code (e.g. 0x73 QR) at 60 and needs the enable report. */
const HONEYWELL_LAYOUT: PosReportLayout = Object.freeze({ ...COMMON_LAYOUT, vendorSymbologyOffset: 60 });
const ENABLE_HID_POS = Object.freeze([0xfe, 0x01]);

const POS_QUIRKS: ReadonlyMap<number, PosQuirks> = new Map([
  [0x0c2e /* Honeywell */, { layout: HONEYWELL_LAYOUT, enableFeatureReport: ENABLE_HID_POS }],
  // Youjie is a Honeywell brand; WebHidBarcodeScanner treats both alike.
  [0x23d0 /* Youjie */, { layout: HONEYWELL_LAYOUT, enableFeatureReport: ENABLE_HID_POS }],
  [0x05e0 /* Zebra (Symbol) */, { layout: COMMON_LAYOUT, enableFeatureReport: undefined }],
  [0x05f9 /* Datalogic */, { layout: COMMON_LAYOUT, enableFeatureReport: undefined }],
]);

/** The quirks of a vendor, or undefined for a vendor nobody has checked; use `COMMON_POS_QUIRKS` then. */
export function posQuirksOf(vendorId: number): PosQuirks | undefined {
  return POS_QUIRKS.get(vendorId);
}

export const COMMON_POS_QUIRKS: PosQuirks = Object.freeze({ layout: COMMON_LAYOUT, enableFeatureReport: undefined });
