import type { Logger } from 'pino';
import { createDriver } from '../../drivers/index.js';
import { fullJitterDelay } from '../../drivers/core/reconnect.js';
import type { DeviceDriver, DeviceEvent } from '../../drivers/core/driver.js';
import type { AgentHealth } from '../../protocol/index.js';
import type { DeviceConfig } from '../config.js';
import type { Outbox } from '../outbox/outbox.js';

interface ManagedDevice {
  config: DeviceConfig;
  driver: DeviceDriver;
  /** Failed opens in a row, for the backoff. */
  failedOpens: number;
  retryTimer?: NodeJS.Timeout;
  /** Why the last open failed, while it is being retried. */
  openError?: string;
}

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
      await device.driver.open((event) => this.record(device.config, event));
      device.failedOpens = 0;
      delete device.openError;
    } catch (error) {
      device.openError = error instanceof Error ? error.message : String(error);
      const delay = fullJitterDelay(device.failedOpens++, REOPEN_BASE_MS, REOPEN_CAP_MS);
      this.log.error({ device: device.config.id, err: device.openError, retryInMs: Math.round(delay) }, 'device did not open; retrying');
      device.retryTimer = setTimeout(() => void this.reopen(device), delay);
    }
  }

  private async reopen(device: ManagedDevice): Promise<void> {
    await device.driver.close().catch(() => {});
    if (this.stopped) return;
    device.driver = await this.createDriver(device.config);
    await this.open(device);
  }

  private async record(config: DeviceConfig, event: DeviceEvent): Promise<void> {
    const outcome =
      event.type === 'scanned'
        ? // A reader without a log of its own resends or rescans freely: repeats are debounced.
          this.options.outbox.recordTap(config.id, { method: 'qr', subject: event.payload, deviceTime: null }, this.options.debounceMs)
        : // A terminal logs each punch with its own key; the hub deduplicates by that key.
          this.options.outbox.recordTap(
            config.id,
            { method: event.method, subject: event.subject, deviceTime: event.deviceTime, deviceKey: event.deviceKey, score: event.score },
            0,
          );
    if (outcome.recorded) this.options.onRecorded();
    else this.log.debug({ device: config.id }, 'repeated scan debounced');
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
    for (const device of this.managed) clearTimeout(device.retryTimer);
    await Promise.all(this.managed.splice(0).map(({ driver }) => driver.close()));
  }
}
