import type { Logger } from 'pino';
import { createDriver } from '../../drivers/index.js';
import type { DeviceDriver, DeviceEvent } from '../../drivers/core/driver.js';
import type { AgentHealth } from '../../protocol/index.js';
import type { DeviceConfig } from '../config.js';
import type { Outbox } from '../outbox/outbox.js';

interface ManagedDevice {
  config: DeviceConfig;
  driver: DeviceDriver;
}

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
  private readonly log: Logger;

  constructor(private readonly options: DeviceManagerOptions) {
    this.log = options.logger.child({ ns: 'agent:devices' });
  }

  async start(): Promise<void> {
    for (const config of this.options.devices) {
      const driver = await createDriver(config.kind, config.url);
      driver.on('state', (state, reason) => this.log.info({ device: config.id, state, reason }, 'device state'));
      this.managed.push({ config, driver });
      await driver.open((event) => this.record(config, event));
    }
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

  health(): AgentHealth['devices'] {
    return this.managed.map(({ config, driver }) => {
      const lastSeenAt = driver.stats().lastSeenAt;
      return { id: config.id, kind: driver.kind, state: driver.state, lastSeenAt: lastSeenAt ? lastSeenAt.toISOString() : null };
    });
  }

  async stop(): Promise<void> {
    await Promise.all(this.managed.splice(0).map(({ driver }) => driver.close()));
  }
}
