import { createHash, createPrivateKey as createPrivateKeyFrom, generateKeyPairSync, sign, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import forge from 'node-forge';
import {
  AGENT_RSA_BITS,
  agentCertificateName,
  isTopicId,
  normalizeFingerprint,
  parseAgentCertificateName,
  renewalSigningInput,
  type EnrollRequest,
  type IssuedCertificate,
  type RenewRequest,
} from '../protocol/index.js';

/**
 * The agent's identity: its private key, its certificate from the hub CA,
 * and the CA certificate, under `{dataDir}/identity/`. Enrollment makes the
 * key here (it never leaves the machine), sends a CSR with a one-time token,
 * and keeps the certificate only if the returned CA is the one whose
 * fingerprint the administrator gave.
 */
export interface AgentIdentity {
  campusId: string;
  agentId: string;
  /** The hub's HTTP API, for renewal. */
  hubUrl: string;
  keyPem: string;
  certificatePem: string;
  caCertificatePem: string;
  serial: string;
  notBefore: Date;
  notAfter: Date;
}

export class EnrollmentError extends Error {
  override readonly name = 'EnrollmentError';
}

const FILES = { key: 'agent.key', cert: 'agent.crt', ca: 'ca.crt', meta: 'identity.json' } as const;

export function identityDir(dataDir: string): string {
  return join(dataDir, 'identity');
}

function fingerprintOf(pem: string): string {
  return createHash('sha256').update(new X509Certificate(pem).raw).digest('hex');
}

function makeKeyAndCsr(commonName: string, bits: number): { keyPem: string; csrPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  csr.setSubject([{ name: 'commonName', value: commonName }]);
  csr.sign(forge.pki.privateKeyFromPem(keyPem), forge.md.sha256.create());
  return { keyPem, csrPem: forge.pki.certificationRequestToPem(csr) };
}

interface HttpAnswer {
  status: number;
  body: unknown;
}

/**
 * A JSON request with node:http(s). Over https with `ca`, the server must
 * present a certificate from that CA (the hub's own, pinned) or from a public
 * CA the system trusts (a hub behind a certificate browsers accept); the
 * pinned fingerprint of the returned CA is checked either way.
 */
function requestJson(url: string, method: 'GET' | 'POST', body: unknown, tls: { ca?: string; insecure?: boolean } = {}): Promise<HttpAnswer> {
  const target = new URL(url);
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const isHttps = target.protocol === 'https:';
  return new Promise((resolve, reject) => {
    const options = {
      method,
      headers: payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {},
      timeout: 30_000,
      ...(isHttps ? { ca: tls.ca ? [...rootCertificates, tls.ca] : undefined, rejectUnauthorized: !tls.insecure } : {}),
    };
    const req = (isHttps ? httpsRequest : httpRequest)(target, options, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // Not JSON; kept as text for the error message.
        }
        resolve({ status: response.statusCode ?? 0, body: parsed });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${target.origin} in 30 s`)));
    req.on('error', reject);
    req.end(payload);
  });
}

function describeFailure(answer: HttpAnswer): string {
  const body = answer.body as { error?: string; message?: string } | string;
  return typeof body === 'object' && body ? `${answer.status} ${body.error ?? ''}: ${body.message ?? ''}` : `${answer.status} ${String(body).slice(0, 200)}`;
}

function writeIdentity(dataDir: string, identity: AgentIdentity): void {
  const dir = identityDir(dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const write = (name: string, text: string, mode: number) => {
    // Written beside and renamed, so a crash never leaves half a key.
    const temporary = join(dir, `${name}.tmp`);
    writeFileSync(temporary, text, { mode });
    chmodSync(temporary, mode);
    renameSync(temporary, join(dir, name));
  };
  write(FILES.key, identity.keyPem, 0o600);
  write(FILES.cert, identity.certificatePem, 0o644);
  write(FILES.ca, identity.caCertificatePem, 0o644);
  write(FILES.meta, `${JSON.stringify({ campusId: identity.campusId, agentId: identity.agentId, hubUrl: identity.hubUrl, serial: identity.serial, notBefore: identity.notBefore, notAfter: identity.notAfter }, null, 2)}\n`, 0o644);
}

function identityFromIssued(issued: IssuedCertificate, keyPem: string, hubUrl: string): AgentIdentity {
  const x509 = new X509Certificate(issued.certificatePem);
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(x509.subject)?.[1] ?? '';
  const address = parseAgentCertificateName(cn);
  if (!address) throw new EnrollmentError(`the hub issued a certificate for ${JSON.stringify(cn)}, not an agent`);
  if (!x509.checkPrivateKey(createPrivateKeyFrom(keyPem))) throw new EnrollmentError('the hub issued a certificate for another key');
  const ca = new X509Certificate(issued.caCertificatePem);
  if (!x509.checkIssued(ca) || !x509.verify(ca.publicKey)) throw new EnrollmentError('the certificate was not issued by the hub CA');
  return {
    ...address,
    hubUrl,
    keyPem,
    certificatePem: issued.certificatePem,
    caCertificatePem: issued.caCertificatePem,
    serial: x509.serialNumber.toLowerCase().replace(/^0+/, ''),
    notBefore: new Date(x509.validFrom),
    notAfter: new Date(x509.validTo),
  };
}

export interface EnrollOptions {
  hubUrl: string;
  token: string;
  /** SHA-256 of the hub CA certificate (hex, separators allowed), from the administrator. */
  caFingerprint: string;
  agentId: string;
  dataDir: string;
  bits?: number;
}

/** Enrolls this agent and writes its identity; throws EnrollmentError and writes nothing on any mismatch. */
export async function enrollAgent(options: EnrollOptions): Promise<AgentIdentity> {
  if (!isTopicId(options.agentId)) throw new EnrollmentError('the agent id must match [A-Za-z0-9_-]{1,64}');
  const pin = normalizeFingerprint(options.caFingerprint);
  if (pin.length !== 64) throw new EnrollmentError('the CA fingerprint must be a SHA-256 (64 hex digits)');
  const base = options.hubUrl.replace(/\/+$/, '');
  let trustedCa: string | undefined;
  if (base.startsWith('https:')) {
    // Over https the connection itself is pinned: fetch the CA, check it against the pin, then trust only it.
    const answer = await requestJson(`${base}/api/v1/pki/ca`, 'GET', undefined, { insecure: true });
    const caPem = (answer.body as { caCertificatePem?: string }).caCertificatePem;
    if (answer.status !== 200 || !caPem) throw new EnrollmentError(`could not read the hub CA: ${describeFailure(answer)}`);
    if (fingerprintOf(caPem) !== pin) throw new EnrollmentError('the hub\'s CA certificate does not match the pinned fingerprint; refusing to enroll');
    trustedCa = caPem;
  }
  const { keyPem, csrPem } = makeKeyAndCsr(`enroll/${options.agentId}`, options.bits ?? AGENT_RSA_BITS);
  const body: EnrollRequest = { token: options.token, agentId: options.agentId, csrPem };
  const answer = await requestJson(`${base}/api/v1/pki/enroll`, 'POST', body, trustedCa ? { ca: trustedCa } : {});
  if (answer.status !== 201) throw new EnrollmentError(`the hub refused the enrollment: ${describeFailure(answer)}`);
  const issued = answer.body as IssuedCertificate;
  if (typeof issued.caCertificatePem !== 'string' || fingerprintOf(issued.caCertificatePem) !== pin) {
    throw new EnrollmentError('the CA certificate the hub returned does not match the pinned fingerprint; nothing was written');
  }
  const identity = identityFromIssued(issued, keyPem, base);
  if (identity.agentId !== options.agentId) throw new EnrollmentError(`the hub issued a certificate for agent ${identity.agentId}, not ${options.agentId}`);
  writeIdentity(options.dataDir, identity);
  return identity;
}

/** The identity under `dataDir`, or null when this agent has not enrolled. */
export function loadIdentity(dataDir: string): AgentIdentity | null {
  const dir = identityDir(dataDir);
  if (!existsSync(join(dir, FILES.meta))) return null;
  const meta = JSON.parse(readFileSync(join(dir, FILES.meta), 'utf8')) as { hubUrl: string };
  const keyPem = readFileSync(join(dir, FILES.key), 'utf8');
  const issued = { certificatePem: readFileSync(join(dir, FILES.cert), 'utf8'), caCertificatePem: readFileSync(join(dir, FILES.ca), 'utf8'), notAfter: '', serial: '' };
  return identityFromIssued(issued, keyPem, meta.hubUrl);
}

/** Asks the hub for a new certificate for a new key, proving possession of the current one; writes and returns the new identity. */
export async function renewIdentity(identity: AgentIdentity, dataDir: string, bits = AGENT_RSA_BITS): Promise<AgentIdentity> {
  const { keyPem, csrPem } = makeKeyAndCsr(agentCertificateName(identity), bits);
  const signedAt = new Date().toISOString();
  const signature = sign('sha256', renewalSigningInput(signedAt, csrPem), identity.keyPem).toString('base64');
  const body: RenewRequest = { certificatePem: identity.certificatePem, csrPem, signedAt, signature };
  const answer = await requestJson(`${identity.hubUrl}/api/v1/pki/renew`, 'POST', body, { ca: identity.caCertificatePem });
  if (answer.status !== 201) throw new EnrollmentError(`the hub refused the renewal: ${describeFailure(answer)}`);
  const issued = answer.body as IssuedCertificate;
  if (fingerprintOf(issued.caCertificatePem) !== fingerprintOf(identity.caCertificatePem)) throw new EnrollmentError('the hub answered with a different CA; keeping the current certificate');
  const renewed = identityFromIssued(issued, keyPem, identity.hubUrl);
  if (renewed.campusId !== identity.campusId || renewed.agentId !== identity.agentId) throw new EnrollmentError('the renewed certificate names another agent');
  writeIdentity(dataDir, renewed);
  return renewed;
}

/** When to renew: two thirds into the certificate's lifetime (now, if that has passed). */
export function renewalDueAt(identity: Pick<AgentIdentity, 'notBefore' | 'notAfter'>): Date {
  const start = identity.notBefore.getTime();
  return new Date(start + ((identity.notAfter.getTime() - start) * 2) / 3);
}
