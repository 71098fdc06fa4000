import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { ByteLink, ByteLinkEvents } from '../core/link.js';
import type { LinkStatsRecorder } from '../core/linkStats.js';
import type { HidDiscard, KeyboardScan, PosScan, ReportDecoder } from './codec.js';

const CR = 0x0d;
const LF = 0x0a;

export interface ScanLineHooks {
  /** Receives `discardedBytes` for reports and keys the decoder dropped. */
  stats: LinkStatsRecorder;
  log: Logger;
}

/**
 * Presents a HID link as the line reader the same scanner would be in
 * USB-serial mode (device-protocols.md §5.3): each scan decoded from its
 * reports leaves as one line, the scan's bytes and CR. The QR line session
 * then serves HID scanners unchanged (one scan at a time to the sink,
 * refusals logged, close semantics), and HID POS barcode bytes pass the same
 * text checks as a serial reader's.
 *
 * Link counters therefore see lines: rxBytes counts the bytes of decoded
 * scans, not of reports.
 */
export function scanLineLink(reportLink: ByteLink, decoder: ReportDecoder<KeyboardScan | PosScan>, hooks: ScanLineHooks): ByteLink {
  return new ScanLineLink(reportLink, decoder, hooks);
}

class ScanLineLink extends EventEmitter<ByteLinkEvents> implements ByteLink {
  readonly description: string;

  constructor(
    private readonly reportLink: ByteLink,
    decoder: ReportDecoder<KeyboardScan | PosScan>,
    private readonly hooks: ScanLineHooks,
  ) {
    super();
    this.description = reportLink.description;
    reportLink.on('data', (report) => this.pass(decoder.push(report)));
    reportLink.once('close', (error) => {
      this.pass(decoder.end());
      this.emit('close', error);
    });
  }

  write(bytes: Uint8Array): Promise<void> {
    return this.reportLink.write(bytes);
  }

  close(): Promise<void> {
    return this.reportLink.close();
  }

  private pass(items: Array<KeyboardScan | PosScan | HidDiscard>): void {
    for (const item of items) {
      if (item.type === 'discarded') this.discard(item.reason, item.length, item.sampleHex);
      else this.emit('data', this.lineOf(item));
    }
  }

  private lineOf(scan: KeyboardScan | PosScan): Buffer {
    if ('payload' in scan) return Buffer.from(`${scan.payload}\r`, 'latin1');
    this.hooks.log.debug({ aim: scan.aimIdentifier, vendorSymbology: scan.vendorSymbology, length: scan.data.length }, 'HID POS scan');
    // A line break inside the barcode would split it into two scans; like
    // the serial decoder's other control bytes, it is dropped as noise.
    const kept = scan.data.filter((byte) => byte !== CR && byte !== LF);
    const removed = scan.data.length - kept.length;
    if (removed > 0) this.discard('line break inside a scan', removed, '');
    return Buffer.concat([kept, Uint8Array.of(CR)]);
  }

  private discard(reason: string, length: number, hex: string): void {
    this.hooks.stats.add('discardedBytes', length);
    this.hooks.log.trace({ reason, length, hex }, '[DISCARDED]');
  }
}
