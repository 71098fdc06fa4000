import {
  AGENT_CHANNELS,
  HUB_CHANNELS,
  HUB_IDENTITY,
  TOPIC_ROOT,
  agentClientId,
  agentTopic,
  parseAgentCertificateName,
  type AgentAddress,
} from '../../protocol/index.js';

/**
 * Who is on the other end of a broker connection, and what it may do. With
 * mutual TLS the identity comes from the client certificate's common name;
 * in development mode every connection is `anonymous`.
 */
export type BrokerIdentity =
  | { kind: 'hub'; serial: string }
  | { kind: 'agent'; address: AgentAddress; serial: string }
  | { kind: 'anonymous' };

/** The identity a certificate's common name gives, or null for a name that is neither the hub nor an agent. */
export function identityFromCertificate(commonName: string, serial: string): BrokerIdentity | null {
  if (commonName === HUB_IDENTITY) return { kind: 'hub', serial };
  const address = parseAgentCertificateName(commonName);
  return address ? { kind: 'agent', address, serial } : null;
}

/** An agent must use exactly its own client id; the hub, any id starting `campushub-hub`. */
export function clientIdMatches(identity: BrokerIdentity, clientId: string): boolean {
  switch (identity.kind) {
    case 'anonymous':
      return true;
    case 'hub':
      return clientId.startsWith(HUB_IDENTITY);
    case 'agent':
      return clientId === agentClientId(identity.address);
  }
}

const isReserved = (topic: string) => topic.startsWith('$');

/** An agent publishes only on its own agent channels; the hub anywhere under the protocol root; nobody on `$SYS`. */
export function mayPublish(identity: BrokerIdentity, topic: string): boolean {
  if (isReserved(topic)) return false;
  switch (identity.kind) {
    case 'anonymous':
      return true;
    case 'hub':
      return topic.startsWith(`${TOPIC_ROOT}/`);
    case 'agent':
      return AGENT_CHANNELS.some((channel) => topic === agentTopic(identity.address, channel));
  }
}

/** An agent subscribes to its own `ack` and `cmd/req` and nothing else; the hub under the protocol root. */
export function maySubscribe(identity: BrokerIdentity, filter: string): boolean {
  if (isReserved(filter)) return false;
  switch (identity.kind) {
    case 'anonymous':
      return true;
    case 'hub':
      return filter.startsWith(`${TOPIC_ROOT}/`);
    case 'agent':
      return HUB_CHANNELS.some((channel) => filter === agentTopic(identity.address, channel));
  }
}

export function describeIdentity(identity: BrokerIdentity): string {
  switch (identity.kind) {
    case 'anonymous':
      return 'anonymous';
    case 'hub':
      return HUB_IDENTITY;
    case 'agent':
      return `${identity.address.campusId}/${identity.address.agentId}`;
  }
}
