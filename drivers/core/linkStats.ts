/** Counters of one device link; readers get frozen snapshots. */
export interface LinkStats {
  readonly txFrames: number;
  readonly rxFrames: number;
  readonly txBytes: number;
  readonly rxBytes: number;
  /** Bytes skipped while looking for the start of a frame. */
  readonly discardedBytes: number;
  readonly checksumErrors: number;
  readonly timeouts: number;
  readonly retries: number;
  readonly reconnects: number;
  readonly lastSeenAt: Date | null;
}

type Counter = Exclude<keyof LinkStats, 'lastSeenAt'>;

export class LinkStatsRecorder {
  private current: LinkStats = Object.freeze({
    txFrames: 0,
    rxFrames: 0,
    txBytes: 0,
    rxBytes: 0,
    discardedBytes: 0,
    checksumErrors: 0,
    timeouts: 0,
    retries: 0,
    reconnects: 0,
    lastSeenAt: null,
  });

  constructor(private readonly now: () => Date = () => new Date()) {}

  add(counter: Counter, amount = 1): void {
    this.current = Object.freeze({ ...this.current, [counter]: this.current[counter] + amount });
  }

  /** Records bytes received from the device, which also proves it alive. */
  received(bytes: number): void {
    this.current = Object.freeze({ ...this.current, rxBytes: this.current.rxBytes + bytes, lastSeenAt: this.now() });
  }

  snapshot(): LinkStats {
    return this.current;
  }
}
