import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { Gauge, Registry } from 'prom-client';
import { PROTOCOL_VERSION, SOFTWARE_VERSION } from '../../protocol/index.js';
import type { DeviceClocks } from '../clock/deviceClocks.js';
import type { DeviceManager } from '../devices/manager.js';
import type { DiskBudget, DiskLevel } from '../outbox/diskBudget.js';
import type { Outbox } from '../outbox/outbox.js';
import type { Uplink } from '../uplink/uplink.js';

export interface AdminSources {
  outbox: Outbox;
  uplink: Uplink;
  devices: DeviceManager;
  budget: DiskBudget;
  clocks: DeviceClocks;
}

export interface AdminServer {
  url: string;
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);
const DISK_LEVELS: readonly DiskLevel[] = ['ok', 'alarm', 'full', 'exhausted'];

/** What `GET /health` and `campushub agent status` report. */
export function agentStatus({ outbox, uplink, devices, budget, clocks }: AdminSources) {
  const stats = outbox.stats();
  const disk = budget.check();
  const deviceStates = devices.health();
  const healthy = uplink.connected && disk.level !== 'exhausted' && deviceStates.every((device) => device.state === 'ready');
  return {
    status: healthy ? 'ok' : 'degraded',
    versions: { software: SOFTWARE_VERSION, protocol: PROTOCOL_VERSION, node: process.version },
    uplink: { connected: uplink.connected, inFlight: uplink.inFlightCount, drainPerSecond: Math.round(uplink.drainRate()), watchdogRecycles: uplink.watchdogRecycles },
    backlog: { depth: stats.depth, oldestAgeMs: stats.oldestAgeMs, quarantined: stats.quarantined },
    disk,
    devices: deviceStates,
    clocks: clocks.all(),
  };
}

function metricsRegistry({ outbox, uplink, devices, budget, clocks }: AdminSources): Registry {
  const registry = new Registry();
  const gauge = (name: string, help: string, collect: (gauge: Gauge) => void, labelNames: string[] = []) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        collect(this);
      },
    });
  gauge('campushub_agent_outbox_depth', 'Events in the outbox, not yet acknowledged by the hub', (g) => g.set(outbox.stats().depth));
  gauge('campushub_agent_outbox_oldest_age_seconds', 'Age of the oldest unacknowledged event', (g) => g.set((outbox.stats().oldestAgeMs ?? 0) / 1000));
  gauge('campushub_agent_outbox_quarantined', 'Events the hub rejected, held for an operator', (g) => g.set(outbox.stats().quarantined));
  gauge('campushub_agent_drain_events_per_second', 'Events acknowledged per second over the last minute', (g) => g.set(uplink.drainRate()));
  gauge('campushub_agent_in_flight_events', 'Events published and not yet acknowledged', (g) => g.set(uplink.inFlightCount));
  gauge('campushub_agent_uplink_connected', '1 while connected to the hub broker', (g) => g.set(uplink.connected ? 1 : 0));
  gauge('campushub_agent_watchdog_recycles', 'MQTT clients recycled because acks stopped', (g) => g.set(uplink.watchdogRecycles));
  gauge('campushub_agent_outbox_used_bytes', 'Bytes the outbox pages hold', (g) => g.set(budget.check().usedBytes));
  gauge('campushub_agent_disk_level', '0 ok, 1 alarm (80%), 2 full (device logs not read), 3 exhausted (taps refused)', (g) => g.set(DISK_LEVELS.indexOf(budget.check().level)));
  gauge(
    'campushub_agent_device_ready',
    '1 when the device link is ready',
    (g) => {
      g.reset();
      for (const device of devices.health()) g.set({ device: device.id }, device.state === 'ready' ? 1 : 0);
    },
    ['device'],
  );
  gauge(
    'campushub_agent_device_clock_offset_seconds',
    'Device clock minus agent clock at the last reading',
    (g) => {
      g.reset();
      for (const reading of clocks.all()) g.set({ device: reading.deviceId }, reading.offsetMs / 1000);
    },
    ['device'],
  );
  return registry;
}

/**
 * The local admin server, on localhost only: `/health`, `/metrics`
 * (Prometheus), `/devices` and `/backlog`. Read-only; it changes nothing,
 * so it needs no authentication beyond the loopback address.
 */
export async function startAdminServer(sources: AdminSources, address: { host: string; port: number }, logger: Logger): Promise<AdminServer> {
  if (!LOOPBACK.has(address.host)) throw new Error(`the admin server listens on localhost only (127.0.0.1, ::1 or localhost), not ${address.host}`);
  const registry = metricsRegistry(sources);
  const routes: Record<string, () => Promise<{ type: string; body: string }>> = {
    '/health': async () => json(agentStatus(sources)),
    '/metrics': async () => ({ type: registry.contentType, body: await registry.metrics() }),
    '/devices': async () =>
      json({
        items: sources.devices.health().map((device) => ({
          ...device,
          logCursor: sources.outbox.logCursor(device.id),
          watermark: sources.outbox.watermarks().find((mark) => mark.deviceId === device.id)?.deliveredUpTo ?? null,
          clock: sources.clocks.all().find((reading) => reading.deviceId === device.id) ?? null,
        })),
      }),
    '/backlog': async () => json({ ...sources.outbox.stats(), inFlight: sources.uplink.inFlightCount, drainPerSecond: sources.uplink.drainRate(), discards: sources.outbox.discards() }),
  };
  const server: Server = createServer((request, response) => {
    const route = request.method === 'GET' ? routes[new URL(request.url ?? '/', 'http://localhost').pathname] : undefined;
    if (!route) {
      response.writeHead(request.method === 'GET' ? 404 : 405, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 'not_found', message: 'GET /health, /metrics, /devices or /backlog' }));
      return;
    }
    route().then(
      ({ type, body }) => response.writeHead(200, { 'content-type': type }).end(body),
      (error: Error) => {
        logger.error({ err: error.message, url: request.url }, 'admin request failed');
        response.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 'internal', message: error.message }));
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${address.host}:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function json(value: unknown): { type: string; body: string } {
  return { type: 'application/json', body: JSON.stringify(value) };
}
