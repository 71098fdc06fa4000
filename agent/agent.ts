import pino, { type Logger } from 'pino';
import { createCommandRunner } from './commands.js';
import { ConfigDocuments } from './configDocuments/configDocuments.js';
import { createDriver } from '../drivers/index.js';
import type { AgentConfig } from './config.js';
import { DeviceManager } from './devices/manager.js';
import { renewIdentity, renewalDueAt, type AgentIdentity } from './identity.js';
import { Outbox } from './outbox/outbox.js';
import { Uplink } from './uplink/uplink.js';
import { openVaultServices, type VaultServices } from './vault/index.js';

export interface Agent {
  outbox: Outbox;
  uplink: Uplink;
  devices: DeviceManager;
  /** The template vault and the offline cache. */
  vault: VaultServices;
  /** Remote configuration documents from the hub. */
  configDocuments: ConfigDocuments;
  /** The current identity, when the agent is enrolled (it changes on renewal). */
  identity(): AgentIdentity | undefined;
  /** Renews the certificate now (the timer does this at two thirds of its lifetime). */
  renewNow(): Promise<AgentIdentity>;
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
  const vault = openVaultServices({ dataDir: config.dataDir, keyPem: config.identity?.keyPem, devices: () => devices.drivers(), logger: log });
  const configDocuments: ConfigDocuments = new ConfigDocuments({
    dataDir: config.dataDir,
    logger: log,
    ...(config.configHealthTimeoutMs !== undefined ? { healthTimeoutMs: config.configHealthTimeoutMs } : {}),
    target: {
      fileDevices: config.devices,
      checkDevice: async (device) => (await createDriver(device.kind, device.url)).close(),
      replaceDevices: (list): Promise<void> => devices.replaceDevices(list),
      deviceStates: (): { id: string; state: string }[] => devices.health(),
    },
  });
  // The devices and the uplink refer to each other; neither calls the other before both exist.
  const devices: DeviceManager = new DeviceManager({
    devices: configDocuments.devices(),
    outbox,
    debounceMs: config.debounceMs,
    logger: log,
    onRecorded: () => uplink.pump(),
  });
  const uplink = new Uplink({
    address: { campusId: config.campusId, agentId: config.agentId },
    mqttUrl: config.mqttUrl,
    ...(config.identity ? { tls: config.identity } : {}),
    settings: config.uplink,
    outbox,
    logger: log,
    devices: () => devices.health(),
    runCommand: createCommandRunner(outbox, log, () => uplink.pump(), { ...vault.handlers, 'config.apply': ({ document }) => configDocuments.apply(document) }),
  });
  uplink.start();

  let identity = config.identity;
  let renewTimer: NodeJS.Timeout | undefined;
  let stopped = false;
  const renewNow = async (): Promise<AgentIdentity> => {
    if (!identity) throw new Error('this agent has no identity to renew; enroll it first');
    const renewed = await renewIdentity(identity, config.dataDir);
    identity = renewed;
    vault.vault?.useKey(renewed.keyPem);
    log.info({ serial: renewed.serial, notAfter: renewed.notAfter.toISOString() }, 'renewed the agent certificate');
    uplink.replaceTls(renewed);
    return renewed;
  };
  const scheduleRenewal = (delayMs?: number) => {
    if (!identity || stopped) return;
    const wait = delayMs ?? Math.max(0, renewalDueAt(identity).getTime() - Date.now());
    // setTimeout holds at most 2^31-1 ms; a longer wait is taken in steps.
    const step = Math.min(wait, 2 ** 31 - 1);
    renewTimer = setTimeout(() => {
      if (step < wait) return scheduleRenewal(wait - step);
      renewNow().then(
        () => scheduleRenewal(),
        (error: Error) => {
          log.error({ err: error.message, notAfter: identity?.notAfter.toISOString() }, 'certificate renewal failed; trying again later');
          scheduleRenewal(config.renewRetryMs ?? 3_600_000);
        },
      );
    }, step);
    renewTimer.unref();
  };
  scheduleRenewal();

  try {
    await devices.start();
  } catch (error) {
    stopped = true;
    clearTimeout(renewTimer);
    await uplink.stop();
    vault.close();
    outbox.close();
    throw error;
  }
  log.info({ agentId: config.agentId, campusId: config.campusId, devices: configDocuments.devices().length, outbox: outbox.path }, 'agent started');
  return {
    outbox,
    uplink,
    devices,
    vault,
    configDocuments,
    identity: () => identity,
    renewNow,
    async stop() {
      stopped = true;
      clearTimeout(renewTimer);
      await devices.stop();
      await uplink.stop();
      vault.close();
      outbox.close();
    },
  };
}
