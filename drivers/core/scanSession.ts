import type { Logger } from 'pino';
import type { EventSink } from './driver.js';
import type { ByteLink } from './link.js';
import type { LinkStatsRecorder } from './linkStats.js';

/** What a scan reader's decoder makes of its bytes. */
export type ScanItem =
  | { type: 'scan'; payload: string }
  | {
      type: 'discarded';
      reason: string;
      /** How many received bytes were dropped. */
      length: number;
      /** Hex of the first dropped bytes, for trace logs. */
      sampleHex: string;
    };

/** Decodes the bytes of one link; a fresh one is made for every link. */
export interface ScanDecoder {
  /** Feeds the next chunk or report; returns what it completed, in order. */
  push(bytes: Uint8Array): ScanItem[];
  /** The link ended: returns what its loss cut short, as discards. */
  end(): ScanItem[];
}

export interface ScanSessionOptions {
  sink: EventSink;
  /** Receives rxBytes, rxFrames (one per scan), discardedBytes, and txFrames/txBytes of answers. */
  stats: LinkStatsRecorder;
  log: Logger;
  /**
   * The bytes to answer the reader with once the sink has taken a scan
   * (stored) or refused it; absent for readers that expect no answer.
   */
  answer?: (stored: boolean) => Uint8Array;
}

/**
 * Turns the bytes of successive links into scans for the sink, one at a
 * time and in arrival order, and answers the reader where it expects it.
 *
 * Each scan is answered on the link it arrived on. When that link has been
 * lost meanwhile, the answer is dropped: the reader still holds the scan and
 * sends it again on the next link, and the agent's debounce absorbs the
 * repeat. Answering on the new link instead could acknowledge a different
 * transmission.
 */
export class ScanSession {
  private delivery: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly options: ScanSessionOptions) {}

  /** Reads a freshly opened link; a scan cut short by its loss is discarded, never delivered. */
  attach(link: ByteLink, decoder: ScanDecoder): void {
    link.on('data', (bytes) => {
      this.options.stats.received(bytes.length);
      this.handle(link, decoder.push(bytes));
    });
    link.once('close', () => this.handle(link, decoder.end()));
  }

  /** Stops delivering; resolves once the scan in the sink, if any, has been answered. */
  async close(): Promise<void> {
    this.closed = true;
    await this.delivery;
  }

  private handle(link: ByteLink, items: ScanItem[]): void {
    for (const item of items) {
      if (item.type === 'discarded') {
        this.options.stats.add('discardedBytes', item.length);
        this.options.log.trace({ reason: item.reason, length: item.length, hex: item.sampleHex }, '[DISCARDED]');
        continue;
      }
      this.options.stats.add('rxFrames');
      const { payload } = item;
      this.delivery = this.delivery.then(() => this.deliver(link, payload));
    }
  }

  private async deliver(link: ByteLink, payload: string): Promise<void> {
    if (this.closed) return;
    const { answer } = this.options;
    let stored: boolean;
    try {
      await this.options.sink({ type: 'scanned', payload });
      stored = true;
    } catch (error) {
      stored = false;
      // Without an answer the reader cannot be asked to send the scan again, so it is gone.
      this.options.log.warn({ err: errorMessage(error), answered: answer !== undefined }, 'sink refused a scan');
    }
    if (answer) await this.send(link, answer(stored));
  }

  private async send(link: ByteLink, bytes: Uint8Array): Promise<void> {
    try {
      await link.write(bytes);
      this.options.stats.add('txFrames');
      this.options.stats.add('txBytes', bytes.length);
    } catch (error) {
      this.options.log.debug({ err: errorMessage(error), link: link.description }, 'answer not sent; the reader will resend');
    }
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
