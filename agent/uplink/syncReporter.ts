import { PROTOCOL_VERSION, type SyncWatermarks } from '../../protocol/index.js';
import type { Outbox } from '../outbox/outbox.js';
import type { Uplink } from './uplink.js';

/**
 * Reports each device's delivery watermark ("every event up to T is at the
 * hub") on the `sync` channel: the ones that moved, every interval, and all
 * of them on each new connection. The hub keeps the greatest it saw, so a
 * repeat is harmless and a lost one is made good by the next.
 */
export class SyncReporter {
  private readonly sent = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly outbox: Outbox,
    private readonly uplink: Pick<Uplink, 'publishOn'>,
    /** Called before each report, e.g. so devices without a log note "now" as a candidate. */
    private readonly beforeReport: (now: number) => void = () => {},
  ) {}

  start(intervalMs: number): void {
    this.timer = setInterval(() => this.report(), intervalMs);
    this.timer.unref();
  }

  /** Publishes the watermarks that moved since last sent; returns what was published. */
  report(): SyncWatermarks | null {
    const now = Date.now();
    this.beforeReport(now);
    const moved = this.outbox
      .watermarks()
      .filter((mark): mark is { deviceId: string; deliveredUpTo: number } => mark.deliveredUpTo !== null && this.sent.get(mark.deviceId) !== mark.deliveredUpTo);
    if (moved.length === 0) return null;
    const message: SyncWatermarks = {
      v: PROTOCOL_VERSION,
      at: new Date(now).toISOString(),
      devices: moved.slice(0, 1000).map((mark) => ({ deviceId: mark.deviceId, upTo: new Date(mark.deliveredUpTo).toISOString() })),
    };
    if (!this.uplink.publishOn('sync', message)) return null;
    for (const mark of moved.slice(0, 1000)) this.sent.set(mark.deviceId, mark.deliveredUpTo);
    return message;
  }

  /** A new connection: everything is said again. */
  resend(): void {
    this.sent.clear();
    this.report();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
