import { readFileSync } from 'node:fs';
import { Type, type Static } from '@sinclair/typebox';
import { validator } from '../protocol/index.js';
import type { AgentConfig, DeviceConfig } from './config.js';

const Integer = (minimum: number, maximum = Number.MAX_SAFE_INTEGER) => Type.Integer({ minimum, maximum });

/**
 * The agent's config file (JSON): its devices and settings, every field
 * optional; deploy/agent.example.json shows them all. Who the agent is and
 * where (ids, broker, data directory) stay command-line options or
 * environment variables, as the enrolled certificate decides them.
 */
export const AgentConfigFile = Type.Object(
  {
    devices: Type.Optional(
      Type.Array(
        Type.Object({ id: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }), kind: Type.String({ pattern: '^[a-z0-9-]+$' }), url: Type.String({ minLength: 1 }) }, { additionalProperties: false }),
        { maxItems: 1000 },
      ),
    ),
    uplink: Type.Optional(
      Type.Partial(
        Type.Object(
          {
            batchSize: Integer(1, 1000),
            window: Integer(1, 64),
            ackTimeoutMs: Integer(100),
            backoffBaseMs: Integer(10),
            backoffCapMs: Integer(10),
            healthIntervalMs: Integer(1000),
            mqttVersion: Type.Union([Type.Literal(4), Type.Literal(5)]),
            persistentSession: Type.Boolean(),
            watchdogMs: Integer(1000),
            syncIntervalMs: Integer(100),
          },
          { additionalProperties: false },
        ),
      ),
    ),
    disk: Type.Optional(
      Type.Partial(Type.Object({ maxBytes: Integer(1), reservedBytes: Integer(0), alarmRatio: Type.Number({ exclusiveMinimum: 0, maximum: 1 }) }, { additionalProperties: false })),
    ),
    deviceLogs: Type.Optional(
      Type.Partial(
        Type.Object({ pollMs: Integer(1000), clearAtRecords: Integer(0), setClock: Type.Boolean(), clockSyncMs: Integer(60_000) }, { additionalProperties: false }),
      ),
    ),
    debounceMs: Type.Optional(Integer(0)),
  },
  { additionalProperties: false },
);
export type AgentConfigFile = Static<typeof AgentConfigFile>;

const check = validator(AgentConfigFile);

export class AgentConfigFileError extends Error {
  override readonly name = 'AgentConfigFileError';
}

export function readAgentConfigFile(path: string): AgentConfigFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new AgentConfigFileError(`agent config ${path}: ${(error as Error).message}`);
  }
  if (!check.check(parsed)) throw new AgentConfigFileError(`agent config ${path}: ${check.explain(parsed)}`);
  return parsed;
}

/** The file's settings over `base`; devices are the file's followed by `extraDevices` (from the command line). */
export function applyConfigFile(base: AgentConfig, file: AgentConfigFile, extraDevices: DeviceConfig[]): AgentConfig {
  const devices = [...(file.devices ?? []), ...extraDevices];
  const ids = new Set<string>();
  for (const device of devices) {
    if (ids.has(device.id)) throw new AgentConfigFileError(`device ${device.id} is configured twice`);
    ids.add(device.id);
  }
  return {
    ...base,
    devices,
    uplink: { ...base.uplink, ...file.uplink },
    disk: { ...base.disk, ...file.disk },
    deviceLogs: { ...base.deviceLogs, ...file.deviceLogs },
    ...(file.debounceMs !== undefined ? { debounceMs: file.debounceMs } : {}),
  };
}
