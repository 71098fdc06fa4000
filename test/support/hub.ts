import type { TestContext } from 'node:test';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { startHub, type Hub, type HubDeps } from '../../hub/app.js';
import { hubDefaults, type HubConfig } from '../../hub/config.js';
import { createTestDatabase } from './database.js';
import { tempDir } from './tempDir.js';

export const TEST_ADMIN_TOKEN = 'test-admin-token-not-a-secret';

export interface TestHub extends Hub {
  /** Every log line the hub wrote, parsed. */
  logs: Record<string, unknown>[];
  /** fetch against the hub's API with the admin token. */
  api(path: string, init?: RequestInit): Promise<Response>;
  /** The value of one Prometheus sample, e.g. metric('campushub_ingest_events_total', {result: 'committed'}). */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
}

/** A hub in this process on its own database and ephemeral ports, stopped when the test ends. */
export async function startTestHub(t: TestContext, overrides: Partial<HubConfig> = {}, deps: HubDeps = {}): Promise<TestHub> {
  const database = await createTestDatabase();
  t.after(() => database.drop());
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  const defaults = hubDefaults();
  const keyFile = join(tempDir(t, 'hub-keys'), 'keys.json');
  writeFileSync(keyFile, JSON.stringify({ active: 'k1', keys: { k1: randomBytes(32).toString('base64') } }), { mode: 0o600 });
  const config: HubConfig = {
    ...defaults,
    http: { ...defaults.http, host: '127.0.0.1', port: 0 },
    // Development mode (plain MQTT) unless a test asks for mutual TLS with its own broker settings.
    broker: { ...defaults.broker, host: '127.0.0.1', port: 0, security: 'development' },
    database: { url: database.options.databaseUrl, dataDir: database.options.dataDir },
    adminToken: TEST_ADMIN_TOKEN,
    keys: { keyFile },
    logLevel: 'info',
    ...overrides,
  };
  const hub = await startHub(config, pino({ level: 'debug' }, sink), deps);
  t.after(() => hub.stop());
  return {
    ...hub,
    logs,
    api: (path, init = {}) =>
      fetch(`${hub.httpUrl}${path}`, { ...init, headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, ...(init.headers ?? {}) } }),
    async metric(name, labels = {}) {
      const text = await hub.metrics.registry.metrics();
      const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
      for (const line of text.split('\n')) {
        if (!line.startsWith(name)) continue;
        const match = /^([a-z_]+)(?:\{(.*)\})? (.+)$/.exec(line);
        if (!match || match[1] !== name) continue;
        const present = (match[2] ?? '').split(',');
        if (wanted.every((label) => present.includes(label))) return Number(match[3]);
      }
      return 0;
    },
  };
}
