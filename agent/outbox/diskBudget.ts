import { statfsSync } from 'node:fs';
import type { Logger } from 'pino';

/**
 * How full the outbox is, worst first:
 *   exhausted  nothing more can be stored: every door refuses taps visibly
 *   full       only devices without a log of their own may store, in the reserved margin;
 *              devices that keep a log (ZK terminals) are not read, so they hold their events
 *   alarm      at or past the alarm ratio (80%): the hub and the local log are told
 *   ok
 */
export type DiskLevel = 'ok' | 'alarm' | 'full' | 'exhausted';

export interface DiskBudgetSettings {
  /** Most bytes the outbox may hold (default 1 GiB). */
  maxBytes: number;
  /** The last bytes of maxBytes, kept for devices that have no log of their own (default 32 MiB). */
  reservedBytes: number;
  /** Share of maxBytes at which the alarm is raised (default 0.8). */
  alarmRatio: number;
}

export interface DiskStatus {
  level: DiskLevel;
  usedBytes: number;
  maxBytes: number;
  /** Free bytes of the filesystem holding the outbox, when it can be read. */
  filesystemFreeBytes: number | null;
}

export function diskBudgetDefaults(): DiskBudgetSettings {
  return { maxBytes: 1024 ** 3, reservedBytes: 32 * 1024 ** 2, alarmRatio: 0.8 };
}

const LEVELS: readonly DiskLevel[] = ['ok', 'alarm', 'full', 'exhausted'];

/** How often the filesystem's free space is read again, ms; the outbox's own size is read on every check. */
const FILESYSTEM_CHECK_MS = 5_000;

/**
 * The outbox's disk budget. The outbox's used pages count against
 * `maxBytes`; the filesystem's free space counts too, so a disk that other
 * files fill is seen before SQLite fails with SQLITE_FULL.
 */
export class DiskBudget {
  private level: DiskLevel = 'ok';
  private filesystemFree: number | null = null;
  private filesystemCheckedAt = -Infinity;
  private readonly log: Logger;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly settings: DiskBudgetSettings,
    private readonly usedBytes: () => number,
    private readonly directory: string,
    logger: Logger,
    /** Called when the level changes, e.g. to publish health at once. */
    private readonly onChange: (status: DiskStatus) => void = () => {},
  ) {
    this.log = logger.child({ ns: 'agent:disk' });
  }

  /** Checks every `intervalMs`, so a level that falls as the backlog drains is seen without waiting for a tap. */
  start(intervalMs: number): void {
    this.timer = setInterval(() => this.check(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** The level now; logs and reports a change. */
  check(): DiskStatus {
    const usedBytes = this.usedBytes();
    const { maxBytes, reservedBytes, alarmRatio } = this.settings;
    const free = this.filesystemFreeBytes();
    let level: DiskLevel = 'ok';
    if (usedBytes >= maxBytes || (free !== null && free < reservedBytes)) level = 'exhausted';
    else if (usedBytes >= maxBytes - reservedBytes || (free !== null && free < 2 * reservedBytes)) level = 'full';
    else if (usedBytes >= maxBytes * alarmRatio) level = 'alarm';
    const status: DiskStatus = { level, usedBytes, maxBytes, filesystemFreeBytes: free };
    if (level !== this.level) {
      const worse = LEVELS.indexOf(level) > LEVELS.indexOf(this.level);
      // `level` is pino's own field.
      const fields = { disk: level, usedBytes, maxBytes, filesystemFreeBytes: free };
      // A jump past the alarm (one large commit) still raises it.
      if (worse && this.level === 'ok' && level !== 'alarm') this.log.error({ ...fields, disk: 'alarm' }, 'outbox disk alarm');
      this.level = level;
      if (worse) this.log.error(fields, `outbox disk ${level}`);
      else this.log.warn(fields, `outbox disk back to ${level}`);
      this.onChange(status);
    }
    return status;
  }

  private filesystemFreeBytes(): number | null {
    const now = Date.now();
    if (now - this.filesystemCheckedAt >= FILESYSTEM_CHECK_MS) {
      this.filesystemCheckedAt = now;
      try {
        const stats = statfsSync(this.directory);
        this.filesystemFree = stats.bavail * stats.bsize;
      } catch {
        this.filesystemFree = null;
      }
    }
    return this.filesystemFree;
  }
}
