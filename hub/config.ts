import type { Level } from 'pino';

/** Everything a hub needs to start. Defaults live in `hubDefaults`; the CLI maps flags and environment onto this. */
export interface HubConfig {
  http: { host: string; port: number };
  /** The embedded broker; ignored when `mqttUrl` is set. */
  broker: {
    host: string;
    port: number;
    /** Largest MQTT packet accepted, in bytes; larger ones close the connection before they are buffered. */
    maxPacketBytes: number;
    /** Seconds a new connection may take to send CONNECT. */
    connectTimeoutMs: number;
  };
  /** An external broker, e.g. mqtt://127.0.0.1:1883. */
  mqttUrl: string | undefined;
  database: { url: string | undefined; dataDir: string | undefined };
  /** Bearer token of the development admin; without one, admin routes refuse every request. */
  adminToken: string | undefined;
  ingest: {
    /** Most rows written in one transaction. Agent batches queued during a write are merged up to this. */
    maxRowsPerWrite: number;
  };
  commands: {
    /** How long a command waits for the agent's response, in ms. */
    timeoutMs: number;
  };
  logLevel: Level | 'silent';
}

export function hubDefaults(): HubConfig {
  return {
    http: { host: '127.0.0.1', port: 8080 },
    broker: { host: '127.0.0.1', port: 1883, maxPacketBytes: 2 * 1024 * 1024, connectTimeoutMs: 10_000 },
    mqttUrl: undefined,
    database: { url: undefined, dataDir: undefined },
    adminToken: undefined,
    ingest: { maxRowsPerWrite: 10_000 },
    commands: { timeoutMs: 15_000 },
    logLevel: 'info',
  };
}
