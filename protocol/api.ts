import type { TSchema } from '@sinclair/typebox';
import { CommandRequest, CommandResponse } from './commands.js';
import { Ack, AgentHealth, AgentStatus, EventBatch, SyncWatermarks } from './schemas.js';
import type { AgentChannel, HubChannel } from './topics.js';
import { validator, type Validator } from './codec.js';

/** What an agent publishes, by channel. The hub validates each on receipt. */
export const AGENT_API = {
  events: EventBatch,
  status: AgentStatus,
  health: AgentHealth,
  'cmd/res': CommandResponse,
  sync: SyncWatermarks,
} as const satisfies Record<AgentChannel, TSchema>;

/** What the hub publishes to one agent, by channel. The agent validates each on receipt. */
export const HUB_API = {
  ack: Ack,
  'cmd/req': CommandRequest,
} as const satisfies Record<HubChannel, TSchema>;

/** QoS and retain flag per channel: the one place delivery semantics are chosen. */
export const CHANNEL_DELIVERY: Record<AgentChannel | HubChannel, { qos: 0 | 1; retain: boolean }> = {
  events: { qos: 1, retain: false },
  status: { qos: 1, retain: true },
  health: { qos: 0, retain: true },
  'cmd/res': { qos: 1, retain: false },
  // A lost watermark only delays finalization until the next one, but QoS 1 keeps that rare.
  sync: { qos: 1, retain: false },
  ack: { qos: 1, retain: false },
  'cmd/req': { qos: 1, retain: false },
};

export const agentApiValidators = Object.fromEntries(
  Object.entries(AGENT_API).map(([channel, schema]) => [channel, validator(schema)]),
) as { [C in AgentChannel]: Validator<(typeof AGENT_API)[C]> };

export const hubApiValidators = Object.fromEntries(
  Object.entries(HUB_API).map(([channel, schema]) => [channel, validator(schema)]),
) as { [C in HubChannel]: Validator<(typeof HUB_API)[C]> };
