import type { Logger } from 'pino';

/** A device clock this far off (ms) makes its taps suspect: they are flagged, never rewritten. */
export const CLOCK_FLAG_MS = 5 * 60_000;

export interface ClockReading {
  deviceId: string;
  /** Device clock minus agent clock, ms, at the last reading. */
  offsetMs: number;
  /** Half the round trip of the reading: the offset is known to within this. */
  uncertaintyMs: number;
  measuredAt: string;
  /** When the agent last set the device's clock. */
  setAt: string | null;
  flagged: boolean;
}

/** What a device with a clock offers (a subset of the vendor-neutral DeviceCommands). */
export interface ClockCommands {
  getTime(): Promise<Date>;
  setTime(date: Date): Promise<void>;
}

/**
 * Per-device clock offsets. Device clocks drift and reset (a flat backup
 * battery starts them at 2000-01-01), so the agent reads each clock, keeps the
 * offset, and sets the clock on connect and daily. Taps keep the device time
 * they carried; a tap from a device whose offset is past CLOCK_FLAG_MS is
 * counted and logged as suspect.
 */
export class DeviceClocks {
  private readonly readings = new Map<string, ClockReading>();
  private readonly log: Logger;

  constructor(
    logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.log = logger.child({ ns: 'agent:clock' });
  }

  /**
   * Reads the device clock (the offset against the midpoint of the round
   * trip), then sets it when asked. Returns the device time read, which is
   * what the device would stamp a punch with at that moment.
   */
  async synchronise(deviceId: string, clock: ClockCommands, setClock: boolean): Promise<Date> {
    const before = this.now();
    const deviceTime = await clock.getTime();
    const after = this.now();
    const offsetMs = deviceTime.getTime() - (before + after) / 2;
    const previous = this.readings.get(deviceId);
    let setAt = previous?.setAt ?? null;
    if (setClock) {
      await clock.setTime(new Date(this.now()));
      setAt = new Date(this.now()).toISOString();
    }
    const reading: ClockReading = {
      deviceId,
      offsetMs: Math.round(offsetMs),
      uncertaintyMs: Math.ceil((after - before) / 2),
      measuredAt: new Date(after).toISOString(),
      setAt,
      flagged: Math.abs(offsetMs) > CLOCK_FLAG_MS,
    };
    this.readings.set(deviceId, reading);
    if (reading.flagged) this.log.warn({ deviceId, offsetMs: reading.offsetMs, set: setClock }, 'device clock is more than 5 minutes off');
    return deviceTime;
  }

  /** A live tap is suspect when stamped more than 5 minutes from its receipt. */
  isStampSuspect(deviceTime: Date | null, receivedAt: number): boolean {
    return deviceTime !== null && Math.abs(deviceTime.getTime() - receivedAt) > CLOCK_FLAG_MS;
  }

  /** Log records are suspect when the device's clock was more than 5 minutes off at its last reading (before any setting). */
  isFlagged(deviceId: string): boolean {
    return this.readings.get(deviceId)?.flagged ?? false;
  }

  all(): ClockReading[] {
    return [...this.readings.values()];
  }
}
