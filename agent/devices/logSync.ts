import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { DeviceCommands, DeviceLogRecord } from '../../drivers/core/commands.js';
import type { DeviceClocks } from '../clock/deviceClocks.js';
import type { DeviceTap, LogCursor, Outbox } from '../outbox/outbox.js';

export interface LogClearing {
  /** Clear the device's log once it holds at least this many records (0: never clear, the default). */
  atRecords: number;
}

export interface LogSyncOptions {
  deviceId: string;
  commands: DeviceCommands;
  outbox: Outbox;
  clocks: DeviceClocks;
  clearing: LogClearing;
  /** Set the device clock when it is read (on connect and daily). */
  setClock: boolean;
  logger: Logger;
  /** Whether the outbox may take the device's records now; false leaves them on the device. */
  mayStore(): boolean;
  /** Called after records were committed, so the uplink sends them. */
  onRecorded(): void;
}

/** Records committed per transaction: the disk budget is checked between them, so one large log cannot overrun it. */
const COMMIT_CHUNK = 500;

export interface LogSyncResult {
  /** Records the device's log held at the read. */
  read: number;
  /** New records committed (the rest were known by their device key). */
  recorded: number;
  /** The log was not the one the cursor was on (cleared, shrunk or changed): it was read from its start. */
  newEpoch: boolean;
  cleared: boolean;
  /** The outbox filled: the rest of the records stay on the device (and the log is not cleared). */
  skipped: boolean;
}

/** Identifies a record by its device key (serial, user, device time, verify mode, state). */
export function recordHash(record: DeviceLogRecord): string {
  return createHash('sha256').update(record.deviceKey).digest('base64url').slice(0, 22);
}

/**
 * Reads a device's attendance log into the outbox. A ZK terminal has no
 * record index and no ranged read, so each read downloads the whole log, and
 * the cursor (serial, epoch, position, hash of the record before the
 * position) says which records are new. When the record at position − 1 is
 * not the one the cursor saw, or the log is shorter, or the serial changed,
 * the log was cleared or changed underneath: a new epoch starts at 0, and
 * the device keys keep records already committed from counting twice.
 *
 * Clearing, only when configured: disable → download → commit → check the
 * log did not grow → clear → enable. A punch that got into the log after the
 * download (firmware that buffers a punch while being disabled) makes the
 * count differ: the log is downloaded and committed again before any clear.
 */
export class LogSync {
  private readonly log: Logger;
  private serial: string | null | undefined;
  private running: Promise<LogSyncResult> | null = null;
  /** A read was asked for while one ran: it may have started before what the caller knows (room in the outbox, say). */
  private again = false;

  constructor(private readonly options: LogSyncOptions) {
    this.log = options.logger.child({ ns: 'agent:logs', device: options.deviceId });
  }

  /** One read (and clear, when due). A call during a read gets a further read after it, with that one's result. */
  sync({ setClock = false }: { setClock?: boolean } = {}): Promise<LogSyncResult> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    const run = async (): Promise<LogSyncResult> => {
      let result = await this.syncOnce(setClock);
      while (this.again) {
        this.again = false;
        result = await this.syncOnce(false);
      }
      return result;
    };
    this.running = run().finally(() => (this.running = null));
    return this.running;
  }

  private async syncOnce(setClock: boolean): Promise<LogSyncResult> {
    const { commands, outbox, deviceId, clearing } = this.options;
    const readLogs = commands.readLogs;
    if (!readLogs) throw new Error(`device ${deviceId} keeps no log to read`);
    if (!this.options.mayStore()) {
      this.log.warn('outbox full: the device keeps its records until there is room');
      return { read: 0, recorded: 0, newEpoch: false, cleared: false, skipped: true };
    }
    this.serial ??= (await commands.getInfo()).serialNumber ?? null;
    let deviceNow = await this.readClock(setClock && this.options.setClock);
    let records = await readLogs.call(commands);
    let outcome = this.commit(records, deviceNow);
    if (!outcome.complete || clearing.atRecords <= 0 || records.length < clearing.atRecords || !commands.clearLogs) {
      return { read: outcome.read, recorded: outcome.recorded, newEpoch: outcome.newEpoch, cleared: false, skipped: !outcome.complete };
    }
    const { disable, enable, clearLogs } = commands;
    await disable?.call(commands);
    try {
      // Punches made between the first download and the disable are in this one.
      for (;;) {
        deviceNow = await this.readClock(false);
        records = await readLogs.call(commands);
        const more = this.commit(records, deviceNow);
        outcome = { read: more.read, recorded: outcome.recorded + more.recorded, newEpoch: outcome.newEpoch || more.newEpoch, complete: more.complete };
        // Only a log committed to its last record is cleared.
        if (!more.complete) return { read: outcome.read, recorded: outcome.recorded, newEpoch: outcome.newEpoch, cleared: false, skipped: true };
        if ((await this.logRecordCount()) === records.length) break;
        this.log.warn({ downloaded: records.length }, 'the log grew after the download; downloading it again before clearing');
      }
      await clearLogs.call(commands);
      outbox.startLogEpoch(deviceId, this.serial);
      this.log.info({ records: records.length }, 'cleared the device log after committing it');
    } finally {
      await enable?.call(commands);
    }
    return { read: outcome.read, recorded: outcome.recorded, newEpoch: outcome.newEpoch, cleared: true, skipped: false };
  }

  /** The device clock's reading: the time up to which its log is complete at the download that follows. */
  private async readClock(setClock: boolean): Promise<number | null> {
    const { commands, clocks, deviceId } = this.options;
    if (!commands.getTime || !commands.setTime) return null;
    return (await clocks.synchronise(deviceId, { getTime: commands.getTime.bind(commands), setTime: commands.setTime.bind(commands) }, setClock)).getTime();
  }

  /** The log's record count without downloading it, or -1 when the device does not say (the log is then read again). */
  private async logRecordCount(): Promise<number> {
    const { commands } = this.options;
    const count = (await commands.getInfo()).details.logRecords;
    return typeof count === 'number' ? count : ((await commands.readLogs?.call(commands))?.length ?? -1);
  }

  /**
   * Commits the records past the cursor, a chunk per transaction with the
   * cursor moved in each, while the outbox has room. `complete` is false when
   * it filled before the last record: the rest wait on the device.
   */
  private commit(records: readonly DeviceLogRecord[], deviceNow: number | null): { read: number; recorded: number; newEpoch: boolean; complete: boolean } {
    const { outbox, deviceId, clocks } = this.options;
    const stored = outbox.logCursor(deviceId);
    const continues =
      stored !== null &&
      stored.serial === this.serial &&
      stored.position <= records.length &&
      (stored.position === 0 ? stored.lastHash === null : recordHash(records[stored.position - 1]!) === stored.lastHash);
    const base: LogCursor = continues ? stored : { serial: this.serial ?? null, epoch: (stored?.epoch ?? 0) + 1, position: 0, lastHash: null };
    if (!continues && stored) this.log.warn({ previous: stored, records: records.length }, 'the device log changed underneath the cursor; reading it from its start');
    let recorded = 0;
    let position = base.position;
    const suspectClock = clocks.isFlagged(deviceId);
    let suspect = 0;
    // A new epoch is saved even when the log is empty, so the next read continues from it.
    do {
      if (position > base.position && !this.options.mayStore()) break;
      const chunk = records.slice(position, position + COMMIT_CHUNK);
      const taps: DeviceTap[] = chunk.map((record) => ({
        method: record.method,
        subject: record.subject,
        deviceTime: record.deviceTime,
        deviceKey: record.deviceKey,
        ...(suspectClock && record.deviceTime ? { clockSuspect: true } : {}),
      }));
      if (suspectClock) suspect += chunk.length;
      position += chunk.length;
      const last = records[position - 1];
      recorded += outbox.recordLogRead(deviceId, taps, { serial: base.serial, epoch: base.epoch, position, lastHash: last ? recordHash(last) : null });
    } while (position < records.length);
    if (suspect > 0) this.log.warn({ suspect }, 'log records stamped by a clock more than 5 minutes off (kept as stamped)');
    const complete = position === records.length;
    if (complete && deviceNow !== null) outbox.noteWatermarkCandidate(deviceId, deviceNow);
    if (!complete) this.log.warn({ committed: position, records: records.length }, 'outbox full: the rest of the device log stays on the device');
    if (recorded > 0) this.options.onRecorded();
    return { read: records.length, recorded, newEpoch: !continues && stored !== null, complete };
  }
}
