import { generateKeyPairSync } from 'node:crypto';
import forge from 'node-forge';
import { agentClientId, type AgentAddress, type IssuedCertificate } from '../../protocol/index.js';
import { createCsr, generateRsaKeyPairSync, signCertificate, type KeyPairPem } from '../../hub/pki/x509.js';
import { hubDefaults, type HubConfig } from '../../hub/config.js';
import type { TestHub } from './hub.js';

/** Broker settings of a test hub with mutual TLS on an ephemeral port. */
export function mtlsBroker(overrides: Partial<HubConfig['broker']> = {}): HubConfig['broker'] {
  return { ...hubDefaults().broker, host: '127.0.0.1', port: 0, security: 'mtls', ...overrides };
}

// Key generation is the slow part of these tests; one 2048-bit pair per role is reused.
const keyCache = new Map<string, KeyPairPem>();
export function testKeys(name: string, bits = 2048): KeyPairPem {
  let keys = keyCache.get(`${name}/${bits}`);
  if (!keys) keyCache.set(`${name}/${bits}`, (keys = generateRsaKeyPairSync(bits)));
  return keys;
}

export async function issueToken(hub: TestHub, body: { campusId: string; agentId?: string; ttlMinutes?: number }): Promise<{ token: string; caFingerprint: string; tokenId: string }> {
  const response = await hub.api('/api/v1/pki/enrollment-tokens', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (response.status !== 201) throw new Error(`token: ${response.status} ${await response.text()}`);
  return (await response.json()) as { token: string; caFingerprint: string; tokenId: string };
}

export async function enrollRaw(hub: TestHub, body: { token: string; agentId: string; csrPem: string }): Promise<Response> {
  return fetch(`${hub.httpUrl}/api/v1/pki/enroll`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

export interface TestAgentCredentials {
  address: AgentAddress;
  clientId: string;
  keyPem: string;
  certificatePem: string;
  caCertificatePem: string;
  serial: string;
}

/** Enrolls an agent through the API (token, then CSR) and returns its credentials. */
export async function enrollTestAgent(hub: TestHub, address: AgentAddress, keys: KeyPairPem = testKeys(`${address.campusId}/${address.agentId}`)): Promise<TestAgentCredentials> {
  const { token } = await issueToken(hub, { campusId: address.campusId });
  const response = await enrollRaw(hub, { token, agentId: address.agentId, csrPem: createCsr(keys, 'ignored') });
  if (response.status !== 201) throw new Error(`enroll: ${response.status} ${await response.text()}`);
  const issued = (await response.json()) as IssuedCertificate;
  return {
    address,
    clientId: agentClientId(address),
    keyPem: keys.privateKeyPem,
    certificatePem: issued.certificatePem,
    caCertificatePem: issued.caCertificatePem,
    serial: issued.serial,
  };
}

/** A whole CA of its own, unrelated to the hub's, and a client certificate from it. */
export function foreignCaCertificate(commonName: string, keys: KeyPairPem): { certificatePem: string; caCertificatePem: string } {
  const caKeys = testKeys('foreign-ca');
  const now = Date.now();
  const ca = signCertificate(
    { publicKeyPem: caKeys.publicKeyPem, commonName: 'CampusHub360 Agent CA', usage: 'ca', notBefore: new Date(now - 60_000), notAfter: new Date(now + 86_400_000) },
    undefined,
    caKeys.privateKeyPem,
  ).pem;
  const leaf = signCertificate(
    { publicKeyPem: keys.publicKeyPem, commonName, usage: 'client', notBefore: new Date(now - 60_000), notAfter: new Date(now + 86_400_000) },
    { certificatePem: ca, privateKeyPem: caKeys.privateKeyPem },
  ).pem;
  return { certificatePem: leaf, caCertificatePem: ca };
}

/** A CSR for a deliberately weak key. */
export function weakCsr(): string {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  csr.setSubject([{ name: 'commonName', value: 'weak' }]);
  csr.sign(forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()), forge.md.sha256.create());
  return forge.pki.certificationRequestToPem(csr);
}
