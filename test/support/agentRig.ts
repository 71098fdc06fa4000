import type { TestContext } from 'node:test';
import { Writable } from 'node:stream';
import pino from 'pino';
import { startAgent, type Agent } from '../../agent/agent.js';
import { agentDefaults, type AgentConfig, type DeviceConfig } from '../../agent/config.js';
import { MockZkTerminal } from '../../simulators/zk/terminal.js';
import { wallClockOf } from '../../simulators/zk/wire.js';
import type { TestHub } from './hub.js';
import { startTcpProxy, type TcpProxy } from './tcpProxy.js';
import { tempDir } from './tempDir.js';

/** Whether `npm run soak` runs: acceptance tests at full size. */
export const SOAK = process.env.CAMPUSHUB_SOAK === '1';

/** A ZK terminal that writes packets and events back to back, as a real one on a LAN does, closed when the test ends. */
export async function startTerminal(t: TestContext, serialNumber: string): Promise<MockZkTerminal> {
  const terminal = await MockZkTerminal.start({ serialNumber, packetGapMs: 0, eventGapMs: 0, udp: false, capacity: { records: 1_000_000 } });
  t.after(() => terminal.close());
  return terminal;
}

/**
 * Appends `count` records to a terminal's log as if punched through the
 * `hours` before now, each user once (`${prefix}${index}`), so every record
 * has its own device key.
 */
export function punchedEarlier(terminal: MockZkTerminal, prefix: string, count: number, hours = 24): void {
  const end = Date.now() - 60_000;
  const step = (hours * 3_600_000) / count;
  for (let index = 0; index < count; index++) {
    const time = wallClockOf(new Date(end - (count - index) * step));
    terminal.log.push({ uid: 0, userId: `${prefix}${index}`, verifyMode: 1, state: 0, time });
  }
}

/** The hub's MQTT port behind a proxy the test cuts and restores. */
export async function proxyToHub(t: TestContext, hub: TestHub, options: { up?: boolean } = {}): Promise<TcpProxy> {
  const proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(hub.mqttUrl).port) }, options);
  t.after(() => proxy.close());
  return proxy;
}

export interface RigAgent extends Agent {
  /** Every log line the agent wrote, parsed. */
  logs: Record<string, unknown>[];
}

/** An agent in this process with quick retries (the logic is the same at production settings), stopped when the test ends. */
export async function startRigAgent(
  t: TestContext,
  options: { mqttUrl: string; devices: DeviceConfig[]; agentId?: string; overrides?: Partial<AgentConfig> },
): Promise<RigAgent> {
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  const defaults = agentDefaults();
  const agent = await startAgent(
    {
      ...defaults,
      agentId: options.agentId ?? 'rig-agent',
      campusId: 'main',
      mqttUrl: options.mqttUrl,
      dataDir: tempDir(t, 'agent'),
      devices: options.devices,
      uplink: { ...defaults.uplink, backoffBaseMs: 50, backoffCapMs: 400, ackTimeoutMs: 3_000, watchdogMs: 6_000, syncIntervalMs: 500 },
      deviceLogs: { ...defaults.deviceLogs, setClock: false },
      admin: null,
      logLevel: 'info',
      ...options.overrides,
    },
    pino({ level: 'info' }, sink),
  );
  t.after(() => agent.stop());
  return Object.assign(agent, { logs });
}

/** Counts of the hub's events: rows, distinct device keys and distinct subjects. */
export async function hubCounts(hub: TestHub): Promise<{ rows: number; keys: number; subjects: number }> {
  const { rows } = await hub.db.query<{ rows: number; keys: number; subjects: number }>(
    'select count(*)::int as rows, count(distinct device_key)::int as keys, count(distinct subject)::int as subjects from events',
  );
  return rows[0]!;
}
