import pino, { type Logger } from 'pino';
import { createCommandRunner } from './commands.js';
import type { AgentConfig } from './config.js';
import { DeviceManager } from './devices/manager.js';
import { Outbox } from './outbox/outbox.js';
import { Uplink } from './uplink/uplink.js';

export interface Agent {
  outbox: Outbox;
  uplink: Uplink;
  devices: DeviceManager;
  stop(): Promise<void>;
}

/**
 * Composes an agent: outbox first (nothing is accepted before it can be
 * stored), then the uplink, then the devices. Stops in reverse.
 */
export async function startAgent(config: AgentConfig, logger?: Logger): Promise<Agent> {
  const log = logger ?? pino({ name: 'campushub-agent', level: config.logLevel });
  const outbox = new Outbox(config.dataDir);
  const integrity = outbox.integrityCheck();
  if (integrity !== 'ok') log.error({ integrity }, 'outbox integrity check failed');
  // The devices and the uplink refer to each other; neither calls the other before both exist.
  const devices = new DeviceManager({
    devices: config.devices,
    outbox,
    debounceMs: config.debounceMs,
    logger: log,
    onRecorded: () => uplink.pump(),
  });
  const uplink = new Uplink({
    address: { campusId: config.campusId, agentId: config.agentId },
    mqttUrl: config.mqttUrl,
    settings: config.uplink,
    outbox,
    logger: log,
    devices: () => devices.health(),
    runCommand: createCommandRunner(outbox, log, () => uplink.pump()),
  });
  uplink.start();
  try {
    await devices.start();
  } catch (error) {
    await uplink.stop();
    outbox.close();
    throw error;
  }
  log.info({ agentId: config.agentId, campusId: config.campusId, devices: config.devices.length, outbox: outbox.path }, 'agent started');
  return {
    outbox,
    uplink,
    devices,
    async stop() {
      await devices.stop();
      await uplink.stop();
      outbox.close();
    },
  };
}
