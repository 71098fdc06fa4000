import type { Logger } from 'pino';
import { createDriver } from '../../drivers/index.js';
import { fullJitterDelay } from '../../drivers/core/reconnect.js';
import type { DeviceDriver, DeviceEvent } from '../../drivers/core/driver.js';
import type { AgentHealth } from '../../protocol/index.js';
import type { DeviceClocks } from '../clock/deviceClocks.js';
import type { DeviceConfig } from '../config.js';
import type { DiskBudget } from '../outbox/diskBudget.js';
import type { Outbox } from '../outbox/outbox.js';
import { LogSync, type LogSyncResult } from './logSync.js';

interface ManagedDevice {
  config: DeviceConfig;
  driver: DeviceDriver;
  /** Failed opens in a row, for the backoff. */
  failedOpens: number;
  retryTimer?: NodeJS.Timeout;
  /** Why the last open failed, while it is being retried. */
  openError?: string;
  /** Reads the device's own log, for devices that keep one. */
  logSync?: LogSync;
  logTimer?: NodeJS.Timeout;
  logRetry?: NodeJS.Timeout;
  lastLogSync?: { at: string; result?: LogSyncResult; error?: string };
}

/** Settings of the devices that keep a log of their own (ZK terminals). */
export interface DeviceLogSettings {
  /** Read each device log this often, ms (default 300000), and whenever its link comes back. */
  pollMs: number;
  /** Clear a device log once it holds this many records, after committing them; 0 never clears (default). */
  clearAtRecords: number;
  /** Set device clocks on connect and daily (default true). */
  setClock: boolean;
  /** How often device clocks are set again, ms (default one day). */
  clockSyncMs: number;
}

export function deviceLogDefaults(): DeviceLogSettings {
  return { pollMs: 300_000, clearAtRecords: 0, setClock: true, clockSyncMs: 86_400_000 };
}

/** The outbox cannot take this tap; the driver refuses it at the device (or leaves it in the device's log). */
export class OutboxFullError extends Error {
  override readonly name = 'OutboxFullError';
}

/** A failed log read is tried again after this long, ms, not only at the next poll. */
const LOG_RETRY_MS = 10_000;

/** Backoff between attempts to open a device whose driver refused to open (ms). */
const REOPEN_BASE_MS = 1_000;
const REOPEN_CAP_MS = 60_000;

export interface DeviceManagerOptions {
  devices: DeviceConfig[];
  outbox: Outbox;
  debounceMs: number;
  logger: Logger;
  /** Called after each event is committed, so the uplink can send it. */
  onRecorded(): void;
  /** The outbox's disk budget; without one the outbox is never considered full. */
  budget?: DiskBudget;
  clocks?: DeviceClocks;
  logs?: DeviceLogSettings;
}

/**
 * Runs one driver per configured device. Each event is committed to the
 * outbox before the driver acknowledges it to the device; a commit that
 * fails rejects the sink, and the driver refuses the read at the device.
 */
export class DeviceManager {
  private readonly managed: ManagedDevice[] = [];
  private stopped = false;
  private readonly log: Logger;

  constructor(private readonly options: DeviceManagerOptions) {
    this.log = options.logger.child({ ns: 'agent:devices' });
  }

  /**
   * Creates every driver (a bad URL fails here, at start-up) and opens each.
   * A device that cannot be opened does not stop the agent: it is retried
   * with backoff, with a fresh driver each time, and reported in health.
   */
  async start(): Promise<void> {
    for (const config of this.options.devices) {
      const device: ManagedDevice = { config, driver: await this.createDriver(config), failedOpens: 0 };
      this.managed.push(device);
    }
    await Promise.all(this.managed.map((device) => this.open(device)));
  }

  private async createDriver(config: DeviceConfig): Promise<DeviceDriver> {
    const driver = await createDriver(config.kind, config.url);
    driver.on('state', (state, reason) => this.log.info({ device: config.id, state, reason }, 'device state'));
    return driver;
  }

  private async open(device: ManagedDevice): Promise<void> {
    if (this.stopped) return;
    try {
      await device.driver.open((event) => this.record(device, event));
      device.failedOpens = 0;
      delete device.openError;
      this.startLogSync(device);
    } catch (error) {
      device.openError = error instanceof Error ? error.message : String(error);
      const delay = fullJitterDelay(device.failedOpens++, REOPEN_BASE_MS, REOPEN_CAP_MS);
      this.log.error({ device: device.config.id, err: device.openError, retryInMs: Math.round(delay) }, 'device did not open; retrying');
      device.retryTimer = setTimeout(() => void this.reopen(device), delay);
    }
  }

  /** A device with a log of its own is read now (setting its clock), every pollMs, and each time its link is ready again. */
  private startLogSync(device: ManagedDevice): void {
    const { clocks, logs } = this.options;
    if (!clocks || !logs || !device.driver.capabilities.logs) return;
    device.logSync = new LogSync({
      deviceId: device.config.id,
      commands: device.driver.commands,
      outbox: this.options.outbox,
      clocks,
      clearing: { atRecords: logs.clearAtRecords },
      setClock: logs.setClock,
      logger: this.log,
      mayStore: () => this.mayStore(device),
      onRecorded: () => this.options.onRecorded(),
    });
    let clockSetAt = -Infinity;
    const run = () => {
      const setClock = Date.now() - clockSetAt >= logs.clockSyncMs;
      void this.syncLog(device, setClock).then((ok) => {
        if (ok && setClock) clockSetAt = Date.now();
      });
    };
    device.driver.on('state', (state) => {
      if (state === 'ready') run();
    });
    device.logTimer = setInterval(run, logs.pollMs);
    device.logTimer.unref();
    run();
  }

  private async syncLog(device: ManagedDevice, setClock: boolean): Promise<boolean> {
    if (!device.logSync || this.stopped) return false;
    try {
      const result = await device.logSync.sync({ setClock });
      device.lastLogSync = { at: new Date().toISOString(), result };
      if (result.recorded > 0 || result.cleared) this.log.info({ device: device.config.id, ...result }, 'read the device log');
      return !result.skipped;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      device.lastLogSync = { at: new Date().toISOString(), error: message };
      if (this.stopped) return false;
      this.log.warn({ device: device.config.id, err: message, retryInMs: LOG_RETRY_MS }, 'reading the device log failed; reading it again');
      clearTimeout(device.logRetry);
      device.logRetry = setTimeout(() => void this.syncLog(device, setClock), Math.min(LOG_RETRY_MS, this.options.logs?.pollMs ?? LOG_RETRY_MS));
      device.logRetry.unref();
      return false;
    }
  }

  /** Reads the log of every device that keeps one, now (the `pull logs` command, and tests). */
  async syncLogs(): Promise<Record<string, LogSyncResult | { error: string }>> {
    const results: Record<string, LogSyncResult | { error: string }> = {};
    for (const device of this.managed) {
      if (!device.logSync) continue;
      await this.syncLog(device, false);
      const last = device.lastLogSync;
      results[device.config.id] = last?.result ?? { error: last?.error ?? 'not read' };
    }
    return results;
  }

  /**
   * Devices that keep a log stop storing at `full`, so their records wait on
   * the device; devices without one use the reserved margin until `exhausted`.
   */
  private mayStore(device: ManagedDevice): boolean {
    const level = this.options.budget?.check().level ?? 'ok';
    if (level === 'exhausted') return false;
    return level !== 'full' || !device.driver.capabilities.logs;
  }

  /** Devices without a log of their own: every tap before now is committed, so now is a watermark candidate. */
  noteWatermarkCandidates(now: number): void {
    for (const device of this.managed) {
      if (!device.driver.capabilities.logs && !device.openError) this.options.outbox.noteWatermarkCandidate(device.config.id, now);
    }
  }

  private async reopen(device: ManagedDevice): Promise<void> {
    await device.driver.close().catch(() => {});
    if (this.stopped) return;
    device.driver = await this.createDriver(device.config);
    await this.open(device);
  }

  private async record(device: ManagedDevice, event: DeviceEvent): Promise<void> {
    const { config } = device;
    if (!this.mayStore(device)) {
      throw new OutboxFullError(`the outbox is full; device ${config.id} ${device.driver.capabilities.logs ? 'keeps the record in its log' : 'must refuse the tap'}`);
    }
    const clockSuspect = event.type === 'identified' && (this.options.clocks?.isStampSuspect(event.deviceTime, Date.now()) ?? false);
    if (clockSuspect) this.log.warn({ device: config.id, deviceTime: event.deviceTime?.toISOString() }, 'tap stamped more than 5 minutes from its receipt (kept as stamped, flagged)');
    const outcome =
      event.type === 'scanned'
        ? // A reader without a log of its own resends or rescans freely: repeats are debounced.
          this.options.outbox.recordTap(config.id, { method: 'qr', subject: event.payload, deviceTime: null }, this.options.debounceMs)
        : // A terminal logs each punch with its own key; the hub deduplicates by that key.
          this.options.outbox.recordTap(
            config.id,
            { method: event.method, subject: event.subject, deviceTime: event.deviceTime, deviceKey: event.deviceKey, score: event.score, clockSuspect },
            0,
          );
    if (outcome.recorded) this.options.onRecorded();
    else this.log.debug({ device: config.id, reason: outcome.reason }, 'tap not recorded again');
  }

  /** Closes every device and runs these instead (a remote config document being applied or rolled back). */
  async replaceDevices(devices: DeviceConfig[]): Promise<void> {
    for (const device of this.managed) clearTimeout(device.retryTimer);
    await Promise.all(this.managed.splice(0).map(({ driver }) => driver.close()));
    this.options.devices = devices;
    await this.start();
  }

  /** The running drivers by device id, for the template vault. */
  drivers(): { id: string; driver: DeviceDriver }[] {
    return this.managed.map(({ config, driver }) => ({ id: config.id, driver }));
  }

  health(): AgentHealth['devices'] {
    return this.managed.map(({ config, driver, openError }) => {
      const lastSeenAt = driver.stats().lastSeenAt;
      return { id: config.id, kind: driver.kind, state: openError ? 'failed' : driver.state, lastSeenAt: lastSeenAt ? lastSeenAt.toISOString() : null };
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const device of this.managed) {
      clearTimeout(device.retryTimer);
      clearInterval(device.logTimer);
      clearTimeout(device.logRetry);
    }
    await Promise.all(this.managed.splice(0).map(({ driver }) => driver.close()));
  }
}
