import type { Level } from 'pino';
import type { AgentIdentity } from './identity.js';
import { deviceLogDefaults, type DeviceLogSettings } from './devices/manager.js';
import { diskBudgetDefaults, type DiskBudgetSettings } from './outbox/diskBudget.js';

export interface DeviceConfig {
  /** The id events carry, e.g. `door-204`. */
  id: string;
  /** Driver family, e.g. `qr`. */
  kind: string;
  /** Transport URL, e.g. `tcp://10.0.0.5:7001?ack=1`. */
  url: string;
}

export interface AgentConfig {
  agentId: string;
  campusId: string;
  mqttUrl: string;
  /** Holds `outbox.sqlite`. */
  dataDir: string;
  devices: DeviceConfig[];
  uplink: {
    /** Most events per published batch (1–1000, default 1000). */
    batchSize: number;
    /**
     * Batches published and not yet acknowledged (1–64, default 16). Draining
     * a backlog is bound by the round trip to the hub's commit, so the window,
     * not the batch size, sets the drain rate (bench/README.md).
     */
    window: number;
    /** A batch unacknowledged this long (ms) is sent again, with everything after it (default 15000). */
    ackTimeoutMs: number;
    /** Reconnect backoff: first delay and cap, in ms (defaults 1000 and 60000), full jitter. */
    backoffBaseMs: number;
    backoffCapMs: number;
    /** Retained health message period, ms (default 30000). */
    healthIntervalMs: number;
    /** MQTT protocol version: 5 against Mosquitto (the default), 4 for brokers without MQTT 5 (the hub's embedded aedes). */
    mqttVersion: 4 | 5;
    /** Keep the broker session across reconnects (default true). Delivery never depends on it. */
    persistentSession: boolean;
    /** Connected, batches in flight and no ack for this long (ms): the client is recycled (default 60000). */
    watchdogMs: number;
    /** How often delivery watermarks are reported on the `sync` channel, when they moved, ms (default 30000). */
    syncIntervalMs: number;
  };
  /** The outbox's disk budget (agent/outbox/diskBudget.ts). */
  disk: DiskBudgetSettings;
  /** Devices that keep a log of their own: polling, clearing and clocks (agent/devices/manager.ts). */
  deviceLogs: DeviceLogSettings;
  /** The local admin HTTP server (health, metrics, devices, backlog); port 0 picks a free one, null turns it off. */
  admin: { host: string; port: number } | null;
  /**
   * The enrolled identity (agent/identity.ts): with it the uplink uses mutual
   * TLS (an mqtts:// URL) and renews the certificate at two thirds of its lifetime.
   */
  identity?: AgentIdentity;
  /** A failed renewal is tried again after this many ms (default 1 hour). */
  renewRetryMs?: number;
  /** How long devices of a remote config document get to become ready before it is rolled back (ms, default 15000). */
  configHealthTimeoutMs?: number;
  /** Repeated scans of one code at one device within this many ms count once (default 30000). */
  debounceMs: number;
  logLevel: Level | 'silent';
}

export function agentDefaults(): Omit<AgentConfig, 'agentId' | 'campusId' | 'mqttUrl' | 'dataDir' | 'devices'> {
  return {
    uplink: {
      batchSize: 1000,
      window: 16,
      ackTimeoutMs: 15_000,
      backoffBaseMs: 1_000,
      backoffCapMs: 60_000,
      healthIntervalMs: 30_000,
      mqttVersion: 5,
      persistentSession: true,
      watchdogMs: 60_000,
      syncIntervalMs: 30_000,
    },
    disk: diskBudgetDefaults(),
    deviceLogs: deviceLogDefaults(),
    admin: null,
    debounceMs: 30_000,
    logLevel: 'info',
  };
}

export class DeviceSpecError extends Error {
  override readonly name = 'DeviceSpecError';
}

/** Parses `KIND:ID=URL`, e.g. `qr:door-204=tcp://127.0.0.1:7001?ack=1`. */
export function parseDeviceSpec(spec: string): DeviceConfig {
  const match = /^([a-z0-9-]+):([A-Za-z0-9_-]{1,64})=(.+)$/.exec(spec);
  if (!match) throw new DeviceSpecError(`device ${JSON.stringify(spec)}: expected KIND:ID=URL, e.g. qr:door-204=tcp://127.0.0.1:7001?ack=1`);
  return { kind: match[1]!, id: match[2]!, url: match[3]! };
}
