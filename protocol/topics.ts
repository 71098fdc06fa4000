/**
 * The topic scheme, version 1. Every agent owns one subtree:
 *
 *   campushub/v1/{campusId}/{agentId}/{channel}
 *
 * Topic strings are built and parsed only here. Ids are restricted so that they
 * can never contain MQTT wildcards or separators.
 */
export const TOPIC_ROOT = 'campushub/v1';

/** Channels an agent publishes on. */
export const AGENT_CHANNELS = ['events', 'status', 'health', 'cmd/res', 'sync'] as const;
/** Channels the hub publishes on, one subtree per agent. */
export const HUB_CHANNELS = ['ack', 'cmd/req'] as const;

export type AgentChannel = (typeof AGENT_CHANNELS)[number];
export type HubChannel = (typeof HUB_CHANNELS)[number];
export type Channel = AgentChannel | HubChannel;

export const ID_PATTERN = '^[A-Za-z0-9_-]{1,64}$';
const idRegex = new RegExp(ID_PATTERN);

export function isTopicId(value: string): boolean {
  return idRegex.test(value);
}

export interface AgentAddress {
  campusId: string;
  agentId: string;
}

export function agentTopic(address: AgentAddress, channel: Channel): string {
  if (!isTopicId(address.campusId)) throw new Error(`invalid campus id ${JSON.stringify(address.campusId)}: must match ${ID_PATTERN}`);
  if (!isTopicId(address.agentId)) throw new Error(`invalid agent id ${JSON.stringify(address.agentId)}: must match ${ID_PATTERN}`);
  return `${TOPIC_ROOT}/${address.campusId}/${address.agentId}/${channel}`;
}

/** Subscription filters for the hub: one per agent channel, across all campuses and agents. */
export function hubSubscriptions(): string[] {
  return AGENT_CHANNELS.map((channel) => `${TOPIC_ROOT}/+/+/${channel}`);
}

/** Subscription filters for one agent: its own hub channels and nothing else. */
export function agentSubscriptions(address: AgentAddress): string[] {
  return HUB_CHANNELS.map((channel) => agentTopic(address, channel));
}

export interface ParsedTopic extends AgentAddress {
  channel: Channel;
}

const allChannels: readonly string[] = [...AGENT_CHANNELS, ...HUB_CHANNELS];

export function parseTopic(topic: string): ParsedTopic | null {
  const prefix = `${TOPIC_ROOT}/`;
  if (!topic.startsWith(prefix)) return null;
  const [campusId, agentId, ...rest] = topic.slice(prefix.length).split('/');
  const channel = rest.join('/');
  if (!campusId || !agentId || !isTopicId(campusId) || !isTopicId(agentId)) return null;
  if (!allChannels.includes(channel)) return null;
  return { campusId, agentId, channel: channel as Channel };
}
