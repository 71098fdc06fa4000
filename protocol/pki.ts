/**
 * Agent identity: what an agent certificate names, the MQTT client id that
 * goes with it, and the HTTP bodies of enrollment and renewal. Hub and agent
 * both use these; neither imports the other.
 */
import { isTopicId, type AgentAddress } from './topics.js';

/** The common name of the hub's own MQTT client certificate; it may use `campushub/v1/#`. */
export const HUB_IDENTITY = 'campushub-hub';

/**
 * The common name of an agent certificate: `{campusId}/{agentId}`. Both ids
 * match `[A-Za-z0-9_-]`, so the one `/` separates them unambiguously, and a
 * broker that uses the name as the username (Mosquitto's
 * `use_identity_as_username`) can put it straight into a topic pattern:
 * `campushub/v1/%u/events` is the agent's own subtree.
 */
export function agentCertificateName(address: AgentAddress): string {
  if (!isTopicId(address.campusId) || !isTopicId(address.agentId)) throw new Error('campus and agent ids must match [A-Za-z0-9_-]{1,64}');
  return `${address.campusId}/${address.agentId}`;
}

export function parseAgentCertificateName(name: string): AgentAddress | null {
  const parts = name.split('/');
  if (parts.length !== 2 || !isTopicId(parts[0]!) || !isTopicId(parts[1]!)) return null;
  return { campusId: parts[0]!, agentId: parts[1]! };
}

/** The MQTT client id of an agent; the embedded broker refuses any other id for the agent's certificate. */
export function agentClientId(address: AgentAddress): string {
  return `campushub-agent/${agentCertificateName(address)}`;
}

/** Smallest RSA key the hub signs; agents make 3072-bit keys. */
export const MIN_RSA_BITS = 2048;
export const AGENT_RSA_BITS = 3072;

export interface EnrollRequest {
  /** The one-time enrollment token an administrator issued. */
  token: string;
  agentId: string;
  /** A PKCS#10 request, PEM, signed by the agent's new key. */
  csrPem: string;
}

export interface IssuedCertificate {
  certificatePem: string;
  caCertificatePem: string;
  /** ISO time the certificate expires. */
  notAfter: string;
  serial: string;
}

export interface RenewRequest {
  /** The agent's current, valid certificate. */
  certificatePem: string;
  /** A request for the new key, PEM. */
  csrPem: string;
  /** ISO time of signing; the hub accepts a few minutes of skew. */
  signedAt: string;
  /** base64 RSA-SHA256 signature by the current key over `renewalSigningInput(signedAt, csrPem)`. */
  signature: string;
}

/** What a renewing agent signs with its current key: proof it still holds the key its certificate names. */
export function renewalSigningInput(signedAt: string, csrPem: string): Buffer {
  return Buffer.from(`campushub-renew-v1\n${signedAt}\n${csrPem}`, 'utf8');
}

/** The pin an administrator hands out with a token: SHA-256 of the CA certificate's DER, lowercase hex. */
export function normalizeFingerprint(value: string): string {
  return value.replace(/[^0-9a-fA-F]/g, '').toLowerCase();
}
