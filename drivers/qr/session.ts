import type { Logger } from 'pino';
import type { EventSink } from '../core/driver.js';
import type { ByteLink } from '../core/link.js';
import type { LinkStatsRecorder } from '../core/linkStats.js';
import { ACK, NAK, createLineDecoder, type DecodedItem, type LineDecoderOptions } from './codec.js';

export interface QrLineSessionOptions {
  sink: EventSink;
  stats: LinkStatsRecorder;
  /** Answer each scan with ACK after the sink resolves, NAK when it rejects. */
  ackMode: boolean;
  decoder: LineDecoderOptions;
  log: Logger;
}

const ACK_BYTES = Uint8Array.of(ACK);
const NAK_BYTES = Uint8Array.of(NAK);

/**
 * Turns the bytes of successive links into scans for the sink, one at a
 * time and in arrival order, and answers the reader in ACK mode.
 *
 * Each scan is answered on the link it arrived on. When that link has been
 * lost meanwhile, the answer is dropped: the reader still holds the scan and
 * sends it again on the next link, and the agent's debounce absorbs the
 * repeat. Answering on the new link instead could acknowledge a different
 * transmission.
 */
export class QrLineSession {
  private delivery: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly options: QrLineSessionOptions) {}

  /** Reads a freshly opened link; a line cut short by its loss is discarded, never delivered. */
  attach(link: ByteLink): void {
    const decoder = createLineDecoder(this.options.decoder);
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

  private handle(link: ByteLink, items: DecodedItem[]): void {
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
    let stored: boolean;
    try {
      await this.options.sink({ type: 'scanned', payload });
      stored = true;
    } catch (error) {
      stored = false;
      this.options.log.warn({ err: error instanceof Error ? error.message : String(error), ackMode: this.options.ackMode }, 'sink refused a scan');
    }
    if (this.options.ackMode) await this.answer(link, stored ? ACK_BYTES : NAK_BYTES);
  }

  private async answer(link: ByteLink, bytes: Uint8Array): Promise<void> {
    try {
      await link.write(bytes);
      this.options.stats.add('txFrames');
      this.options.stats.add('txBytes', bytes.length);
    } catch (error) {
      this.options.log.debug({ err: error instanceof Error ? error.message : String(error), link: link.description }, 'answer not sent; the reader will resend');
    }
  }
}
