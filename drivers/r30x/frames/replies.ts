import { R30xFrameError, requireInteger } from './errors.js';
import type { AckValues } from './instructions.js';
import { packetSizeFromCode } from './dataTransfer.js';

/** ReadSysPara values with their codes resolved (device-protocols.md §4.4). */
export interface R30xSystemParameters {
  status: { busy: boolean; matched: boolean; passwordVerified: boolean; imageInBuffer: boolean };
  systemId: number;
  /** Library pages; page ids run from 0 to capacity − 1. */
  capacity: number;
  securityLevel: number;
  address: number;
  /** Bytes per data packet. */
  packetSize: number;
  baudRate: number;
}

const BAUD_STEP = 9600;

export function interpretSystemParameters(values: AckValues<'ReadSysPara'>): R30xSystemParameters {
  const { status } = values;
  return {
    status: { busy: (status & 1) !== 0, matched: (status & 2) !== 0, passwordVerified: (status & 4) !== 0, imageInBuffer: (status & 8) !== 0 },
    systemId: values.systemId,
    capacity: values.capacity,
    securityLevel: values.securityLevel,
    address: values.address,
    packetSize: packetSizeFromCode(values.packetSizeCode),
    baudRate: values.baudMultiplier * BAUD_STEP,
  };
}

/** Pages covered by one ReadConList index page. */
export const PAGES_PER_INDEX_PAGE = 256;
/** ReadConList accepts index pages 0–3. */
export const INDEX_PAGE_COUNT = 4;

/** Occupied page ids of one ReadConList reply: bit i of byte j is page indexPage·256 + j·8 + i. */
export function occupiedPages(indexPage: number, bitmap: Buffer): number[] {
  requireInteger(indexPage, 0, INDEX_PAGE_COUNT - 1, 'index page');
  if (bitmap.length !== PAGES_PER_INDEX_PAGE / 8) throw new R30xFrameError('length', `an index bitmap has 32 bytes, got ${bitmap.length}`);
  const pages: number[] = [];
  bitmap.forEach((byte, index) => {
    for (let bit = 0; bit < 8; bit++) if (byte & (1 << bit)) pages.push(indexPage * PAGES_PER_INDEX_PAGE + index * 8 + bit);
  });
  return pages;
}
