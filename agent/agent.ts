import pino, { type Logger } from 'pino';
import { startAdminServer, type AdminServer } from './admin/server.js';
import { DeviceClocks } from './clock/deviceClocks.js';
import { createCommandRunner } from './commands.js';
import { ConfigDocuments } from './configDocuments/configDocuments.js';
import { createDriver } from '../drivers/index.js';
import type { AgentConfig } from './config.js';
import { DeviceManager } from './devices/manager.js';
import { renewIdentity, renewalDueAt, type AgentIdentity } from './identity.js';
import { DiskBudget } from './outbox/diskBudget.js';
import { Outbox } from './outbox/outbox.js';
import { SyncReporter } from './uplink/syncReporter.js';
import { Uplink } from './uplink/uplink.js';
import { openVaultServices, type VaultServices } from './vault/index.js';

/** How often the outbox's disk budget is checked besides on each tap, ms. */
const DISK_CHECK_MS = 1_000;

export interface Agent {
  outbox: Outbox;
  uplink: Uplink;
  devices: DeviceManager;
  /** The template vault and the offline cache. */
  vault: VaultServices;
  /** Remote configuration documents from the hub. */
  configDocuments: ConfigDocuments;
  budget: DiskBudget;
  clocks: DeviceClocks;
  watermarks: SyncReporter;
  /** The local admin server, when configured. */
  admin: AdminServer | undefined;
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
  const budget = new DiskBudget(config.disk, () => outbox.usedBytes(), config.dataDir, log, ({ level }) => {
    uplink.publishHealthNow();
    // Room again: the devices that kept their records are read now, not at their next poll.
    if (level === 'ok' || level === 'alarm') void devices.syncLogs();
  });
  const clocks = new DeviceClocks(log);
  // The devices and the uplink refer to each other; neither calls the other before both exist.
  const devices: DeviceManager = new DeviceManager({
    devices: configDocuments.devices(),
    outbox,
    debounceMs: config.debounceMs,
    logger: log,
    onRecorded: () => uplink.pump(),
    budget,
    clocks,
    logs: config.deviceLogs,
  });
  const watermarks = new SyncReporter(outbox, { publishOn: (channel, body) => uplink.publishOn(channel, body) }, (now) => devices.noteWatermarkCandidates(now));
  const uplink = new Uplink({
    address: { campusId: config.campusId, agentId: config.agentId },
    mqttUrl: config.mqttUrl,
    ...(config.identity ? { tls: config.identity } : {}),
    settings: config.uplink,
    outbox,
    logger: log,
    devices: () => devices.health(),
    runCommand: createCommandRunner(outbox, log, () => uplink.pump(), { ...vault.handlers, 'config.apply': ({ document }) => configDocuments.apply(document) }),
    healthExtras: () => ({
      disk: budget.check(),
      clocks: clocks.all().map(({ deviceId, offsetMs, measuredAt, flagged }) => ({ deviceId, offsetMs, measuredAt, flagged })),
    }),
    onConnected: () => watermarks.resend(),
  });
  uplink.start();
  watermarks.start(config.uplink.syncIntervalMs);
  budget.start(DISK_CHECK_MS);

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
    watermarks.stop();
    budget.stop();
    await uplink.stop();
    vault.close();
    outbox.close();
    throw error;
  }
  // The doors matter more than the admin page: a port already taken is logged, and the agent runs without it.
  const admin = config.admin
    ? await startAdminServer({ outbox, uplink, devices, budget, clocks }, config.admin, log).catch((error: Error) => {
        log.error({ err: error.message, ...config.admin }, 'the admin server did not start');
        return undefined;
      })
    : undefined;
  log.info({ agentId: config.agentId, campusId: config.campusId, devices: configDocuments.devices().length, outbox: outbox.path, admin: admin?.url }, 'agent started');
  return {
    outbox,
    uplink,
    devices,
    vault,
    configDocuments,
    budget,
    clocks,
    watermarks,
    admin,
    identity: () => identity,
    renewNow,
    async stop() {
      stopped = true;
      clearTimeout(renewTimer);
      watermarks.stop();
      budget.stop();
      await admin?.close();
      await devices.stop();
      await uplink.stop();
      vault.close();
      outbox.close();
    },
  };
}
