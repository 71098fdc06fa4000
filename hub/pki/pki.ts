import { createHash, createPrivateKey, createPublicKey, randomBytes, verify as verifySignature, X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import {
  HUB_IDENTITY,
  MIN_RSA_BITS,
  agentCertificateName,
  isTopicId,
  renewalSigningInput,
  uuidv7,
  type AgentAddress,
  type EnrollRequest,
  type IssuedCertificate,
  type RenewRequest,
} from '../../protocol/index.js';
import { appendAudit, type AuditContext } from '../audit/append.js';
import type { Db, Queryable } from '../db/db.js';
import { HttpError } from '../errors.js';
import type { SecretStore } from '../keys/secretStore.js';
import {
  CA_RSA_BITS,
  CsrError,
  generateRsaKeyPair,
  generateRsaKeyPairSync,
  normalizeSerial,
  parseCertificate,
  signCertificate,
  verifyCsr,
  type IssueOptions,
  type KeyPairPem,
} from './x509.js';

export const CA_KEY_SECRET = 'pki.ca-key';
const CA_LIFETIME_DAYS = 3650;
/** Certificates start this far in the past, for clocks that run a little behind. */
const BACKDATE_MS = 5 * 60_000;
/** How far a renewal's signedAt may be from the hub's clock. */
const RENEW_SKEW_MS = 5 * 60_000;
const DAY_MS = 86_400_000;

export interface PkiOptions {
  db: Db;
  secrets: SecretStore;
  logger: Logger;
  /** Lifetime of agent certificates, days (default 30). */
  certificateLifetimeDays: number;
  /** Lifetime of the hub's own certificates (broker server, bus client), days. */
  hubCertificateLifetimeDays?: number;
}

export interface CertificateRecord {
  serial: string;
  kind: 'agent' | 'hub' | 'server';
  commonName: string;
  campusId: string | null;
  agentId: string | null;
  notBefore: string;
  notAfter: string;
  fingerprint: string;
  issuedAt: string;
  renewedFrom: string | null;
  revokedAt: string | null;
  revokedBy: string | null;
  revokeReason: string | null;
}

export interface TlsIdentity {
  keyPem: string;
  certificatePem: string;
  caCertificatePem: string;
  serial: string;
}

export interface Pki {
  readonly caCertificatePem: string;
  /** SHA-256 of the CA certificate's DER, lowercase hex: the pin agents check at enrollment. */
  readonly caFingerprint: string;
  issueEnrollmentToken(
    context: AuditContext,
    request: { campusId: string; agentId?: string; ttlMinutes: number },
  ): Promise<{ token: string; tokenId: string; expiresAt: string; caFingerprint: string }>;
  enroll(request: EnrollRequest, context: Omit<AuditContext, 'actor'>): Promise<IssuedCertificate>;
  renew(request: RenewRequest, context: Omit<AuditContext, 'actor'>): Promise<IssuedCertificate>;
  list(query: { limit: number; beforeSeq?: number; campusId?: string; agentId?: string }): Promise<{ items: (CertificateRecord & { seq: number })[] }>;
  revoke(serial: string, reason: string, context: AuditContext): Promise<CertificateRecord>;
  /** A certificate for a CSR of the broker's server (with host names) or of the hub's MQTT client, for an external broker. */
  issueForBroker(request: { role: 'server' | 'hub'; csrPem: string; hostnames: string[] }, context: AuditContext): Promise<IssuedCertificate>;
  /** A fresh key and certificate of the hub itself, made in memory at startup. */
  issueHubIdentity(role: 'server' | 'hub', hostnames?: string[]): Promise<TlsIdentity>;
  isRevoked(serial: string): boolean;
  /** Called with each serial revoked in this process, after the revocation committed. */
  onRevoked(listener: (record: CertificateRecord) => void): void;
  /** Signs anything with the CA and records nothing. For tests and tools only. */
  signUnrecorded(options: Omit<IssueOptions, 'usage'> & { usage?: IssueOptions['usage'] }): string;
}

function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

interface CertificateRow {
  seq: string | number;
  serial: string;
  kind: CertificateRecord['kind'];
  common_name: string;
  campus_id: string | null;
  agent_id: string | null;
  not_before: Date | string;
  not_after: Date | string;
  fingerprint: string;
  issued_at: Date | string;
  renewed_from: string | null;
  revoked_at: Date | string | null;
  revoked_by: string | null;
  revoke_reason: string | null;
}

const iso = (value: Date | string): string => new Date(value).toISOString();

function toRecord(row: CertificateRow): CertificateRecord {
  return {
    serial: row.serial,
    kind: row.kind,
    commonName: row.common_name,
    campusId: row.campus_id,
    agentId: row.agent_id,
    notBefore: iso(row.not_before),
    notAfter: iso(row.not_after),
    fingerprint: row.fingerprint,
    issuedAt: iso(row.issued_at),
    renewedFrom: row.renewed_from,
    revokedAt: row.revoked_at === null ? null : iso(row.revoked_at),
    revokedBy: row.revoked_by,
    revokeReason: row.revoke_reason,
  };
}

const CERT_COLUMNS = `seq, serial, kind, common_name, campus_id, agent_id, not_before, not_after, fingerprint, issued_at, renewed_from, revoked_at, revoked_by, revoke_reason`;

/** The one 401 for every unusable token: unknown, used and expired look alike. */
const badToken = () => new HttpError(401, 'invalid_token', 'the enrollment token is unknown, used or expired');

/**
 * Starts the certificate authority: loads (or, on first start, makes) the CA
 * key from the secret store and the CA certificate from the database, and the
 * set of revoked serials the broker checks on every connection.
 */
export async function startPki(options: PkiOptions): Promise<Pki> {
  const { db, secrets } = options;
  const log = options.logger.child({ ns: 'hub:pki' });
  const lifetimeMs = options.certificateLifetimeDays * DAY_MS;
  const hubLifetimeMs = (options.hubCertificateLifetimeDays ?? 365) * DAY_MS;

  const caKeyPem = (await secrets.getOrCreate(CA_KEY_SECRET, () => Buffer.from(generateRsaKeyPairSync(CA_RSA_BITS).privateKeyPem))).toString('utf8');
  const caPublicKeyPem = createPublicKey(caKeyPem).export({ type: 'spki', format: 'pem' }).toString();
  const existing = await db.query<{ certificate_pem: string }>('select certificate_pem from pki_ca where id = 1');
  if (existing.rows.length === 0) {
    const now = Date.now();
    const { pem } = signCertificate(
      { publicKeyPem: caPublicKeyPem, commonName: 'CampusHub360 Agent CA', usage: 'ca', notBefore: new Date(now - BACKDATE_MS), notAfter: new Date(now + CA_LIFETIME_DAYS * DAY_MS) },
      undefined,
      caKeyPem,
    );
    // Two hubs starting at once: one certificate wins, and both hold the same key (the secret store agrees on one value).
    await db.query('insert into pki_ca (id, certificate_pem, fingerprint) values (1, $1, $2) on conflict (id) do nothing', [pem, parseCertificate(pem).fingerprint]);
    log.info('created the agent certificate authority');
  }
  const { rows: caRows } = await db.query<{ certificate_pem: string }>('select certificate_pem from pki_ca where id = 1');
  const caCertificatePem = caRows[0]!.certificate_pem;
  const caX509 = new X509Certificate(caCertificatePem);
  if (!caX509.checkPrivateKey(createPrivateKey(caKeyPem))) {
    throw new Error('the CA certificate in the database does not match the CA key in the secret store; refusing to start the PKI');
  }
  const caFingerprint = parseCertificate(caCertificatePem).fingerprint;
  const signer = { certificatePem: caCertificatePem, privateKeyPem: caKeyPem };

  const revoked = new Set<string>();
  const { rows: revokedRows } = await db.query<{ serial: string }>('select serial from pki_certificates where revoked_at is not null and not_after > now()');
  for (const row of revokedRows) revoked.add(row.serial);
  const revokeListeners: ((record: CertificateRecord) => void)[] = [];

  function assertKey(bits: number): void {
    if (bits < MIN_RSA_BITS) throw new HttpError(400, 'weak_key', `RSA keys need at least ${MIN_RSA_BITS} bits (3072 recommended); this one has ${bits}`);
  }

  function checkedCsr(csrPem: string) {
    try {
      const csr = verifyCsr(csrPem);
      assertKey(csr.bits);
      return csr;
    } catch (error) {
      if (error instanceof CsrError) throw new HttpError(400, 'invalid_csr', error.message);
      throw error;
    }
  }

  async function record(
    tx: Queryable,
    values: { pem: string; kind: CertificateRecord['kind']; address?: AgentAddress; tokenId?: string; renewedFrom?: string },
  ): Promise<CertificateRecord> {
    const parsed = parseCertificate(values.pem);
    const { rows } = await tx.query<CertificateRow>(
      `insert into pki_certificates (serial, kind, agent_id, campus_id, common_name, not_before, not_after, fingerprint, certificate_pem, enrollment_token_id, renewed_from)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
       returning ${CERT_COLUMNS}`,
      [
        parsed.serial,
        values.kind,
        values.address?.agentId ?? null,
        values.address?.campusId ?? null,
        parsed.commonName,
        parsed.notBefore,
        parsed.notAfter,
        parsed.fingerprint,
        values.pem,
        values.tokenId ?? null,
        values.renewedFrom ?? null,
      ],
    );
    return toRecord(rows[0]!);
  }

  function issueAgent(publicKeyPem: string, address: AgentAddress): string {
    const now = Date.now();
    return signCertificate(
      {
        publicKeyPem,
        commonName: agentCertificateName(address),
        organizationalUnit: address.campusId,
        usage: 'client',
        notBefore: new Date(now - BACKDATE_MS),
        notAfter: new Date(now + lifetimeMs),
      },
      signer,
    ).pem;
  }

  const issued = (pem: string, recordValue: CertificateRecord): IssuedCertificate => ({
    certificatePem: pem,
    caCertificatePem,
    notAfter: recordValue.notAfter,
    serial: recordValue.serial,
  });

  return {
    caCertificatePem,
    caFingerprint,

    async issueEnrollmentToken(context, request) {
      const token = `cht_${randomBytes(32).toString('base64url')}`;
      const tokenId = uuidv7();
      const expiresAt = new Date(Date.now() + request.ttlMinutes * 60_000);
      await db.transaction(async (tx) => {
        await tx.query(
          `insert into pki_enrollment_tokens (id, token_hash, campus_id, agent_id, expires_at, created_by) values ($1, $2, $3, $4, $5, $6)`,
          [tokenId, hashToken(token), request.campusId, request.agentId ?? null, expiresAt, context.actor],
        );
        await appendAudit(tx, {
          ...context,
          action: 'pki.enrollment-token.issue',
          target: `enrollment-token:${tokenId}`,
          after: { campusId: request.campusId, agentId: request.agentId ?? null, expiresAt: expiresAt.toISOString() },
        });
      });
      return { token, tokenId, expiresAt: expiresAt.toISOString(), caFingerprint };
    },

    async enroll(request, context) {
      if (!isTopicId(request.agentId)) throw new HttpError(400, 'invalid_agent_id', 'agentId must match [A-Za-z0-9_-]{1,64}');
      const csr = checkedCsr(request.csrPem);
      const result = await db.transaction(async (tx) => {
        // Marks the token used in the same statement that checks it: of parallel requests with one token, exactly one gets a row.
        const { rows } = await tx.query<{ id: string; campus_id: string; agent_id: string | null }>(
          `update pki_enrollment_tokens set used_at = now(), used_by = $2
           where token_hash = $1 and used_at is null and expires_at > now()
           returning id, campus_id, agent_id`,
          [hashToken(request.token), request.agentId],
        );
        const token = rows[0];
        if (!token) return null;
        if (token.agent_id !== null && token.agent_id !== request.agentId) {
          throw new HttpError(403, 'agent_mismatch', `this token enrolls agent ${token.agent_id} only`);
        }
        const address = { campusId: token.campus_id, agentId: request.agentId };
        const pem = issueAgent(csr.publicKeyPem, address);
        const saved = await record(tx, { pem, kind: 'agent', address, tokenId: token.id });
        await appendAudit(tx, {
          ...context,
          actor: `enrollment-token:${token.id}`,
          action: 'pki.certificate.issue',
          target: `agent:${agentCertificateName(address)}`,
          after: { serial: saved.serial, notAfter: saved.notAfter, fingerprint: saved.fingerprint, keyBits: csr.bits },
        });
        return issued(pem, saved);
      });
      if (!result) throw badToken();
      log.info({ serial: result.serial, agentId: request.agentId }, 'enrolled an agent');
      return result;
    },

    async renew(request, context) {
      const csr = checkedCsr(request.csrPem);
      let current;
      try {
        current = parseCertificate(request.certificatePem);
      } catch {
        throw new HttpError(400, 'invalid_certificate', 'certificatePem is not a PEM certificate');
      }
      const refuse = (why: string) => new HttpError(401, 'invalid_certificate', why);
      if (!current.x509.checkIssued(caX509) || !current.x509.verify(caX509.publicKey)) throw refuse('the certificate was not issued by this hub');
      const now = Date.now();
      if (current.notAfter.getTime() <= now || current.notBefore.getTime() > now) throw refuse('the certificate has expired or is not yet valid');
      const signedAt = Date.parse(request.signedAt);
      if (!Number.isFinite(signedAt) || Math.abs(signedAt - now) > RENEW_SKEW_MS) throw refuse('signedAt is missing or too far from the hub\'s clock');
      const signatureOk = verifySignature('sha256', renewalSigningInput(request.signedAt, request.csrPem), current.x509.publicKey, Buffer.from(request.signature, 'base64'));
      if (!signatureOk) throw refuse('the signature does not verify with the certificate\'s key');
      const result = await db.transaction(async (tx) => {
        const { rows } = await tx.query<CertificateRow & { certificate_pem: string }>(
          `select ${CERT_COLUMNS}, certificate_pem from pki_certificates where serial = $1 for update`,
          [current.serial],
        );
        const row = rows[0];
        if (!row || row.fingerprint !== current.fingerprint || row.kind !== 'agent' || !row.campus_id || !row.agent_id) throw refuse('unknown certificate');
        if (row.revoked_at !== null) throw refuse('the certificate is revoked');
        const address = { campusId: row.campus_id, agentId: row.agent_id };
        const pem = issueAgent(csr.publicKeyPem, address);
        const saved = await record(tx, { pem, kind: 'agent', address, renewedFrom: row.serial });
        await appendAudit(tx, {
          ...context,
          actor: `agent:${agentCertificateName(address)}`,
          action: 'pki.certificate.renew',
          target: `agent:${agentCertificateName(address)}`,
          before: { serial: row.serial, notAfter: iso(row.not_after) },
          after: { serial: saved.serial, notAfter: saved.notAfter, fingerprint: saved.fingerprint, keyBits: csr.bits },
        });
        return issued(pem, saved);
      });
      log.info({ serial: result.serial, renewedFrom: current.serial }, 'renewed an agent certificate');
      return result;
    },

    async list(query) {
      const params: unknown[] = [];
      const where: string[] = [];
      if (query.beforeSeq !== undefined) where.push(`seq < $${params.push(query.beforeSeq)}`);
      if (query.campusId) where.push(`campus_id = $${params.push(query.campusId)}`);
      if (query.agentId) where.push(`agent_id = $${params.push(query.agentId)}`);
      params.push(query.limit);
      const { rows } = await db.query<CertificateRow>(
        `select ${CERT_COLUMNS} from pki_certificates ${where.length ? `where ${where.join(' and ')}` : ''} order by seq desc limit $${params.length}`,
        params,
      );
      return { items: rows.map((row) => ({ ...toRecord(row), seq: Number(row.seq) })) };
    },

    async revoke(serial, reason, context) {
      const key = normalizeSerial(serial);
      const saved = await db.transaction(async (tx) => {
        const { rows } = await tx.query<CertificateRow>(`select ${CERT_COLUMNS} from pki_certificates where serial = $1 for update`, [key]);
        const row = rows[0];
        if (!row) throw new HttpError(404, 'not_found', `no certificate with serial ${key}`);
        if (row.revoked_at !== null) throw new HttpError(409, 'already_revoked', `certificate ${key} was revoked at ${iso(row.revoked_at)}`);
        const { rows: updated } = await tx.query<CertificateRow>(
          `update pki_certificates set revoked_at = now(), revoked_by = $2, revoke_reason = $3 where serial = $1 returning ${CERT_COLUMNS}`,
          [key, context.actor, reason],
        );
        await appendAudit(tx, {
          ...context,
          action: 'pki.certificate.revoke',
          target: row.kind === 'agent' && row.campus_id && row.agent_id ? `agent:${row.campus_id}/${row.agent_id}` : `certificate:${key}`,
          before: { serial: key, revokedAt: null },
          after: { serial: key, revokedAt: iso(updated[0]!.revoked_at!) },
          reason,
        });
        return toRecord(updated[0]!);
      });
      revoked.add(key);
      log.warn({ serial: key, commonName: saved.commonName, reason }, 'revoked a certificate');
      for (const listener of revokeListeners) listener(saved);
      return saved;
    },

    async issueForBroker(request, context) {
      const csr = checkedCsr(request.csrPem);
      const now = Date.now();
      const commonName = request.role === 'hub' ? HUB_IDENTITY : (request.hostnames[0] ?? 'campushub-broker');
      const { pem } = signCertificate(
        {
          publicKeyPem: csr.publicKeyPem,
          commonName,
          usage: request.role === 'hub' ? 'client' : 'server',
          notBefore: new Date(now - BACKDATE_MS),
          notAfter: new Date(now + hubLifetimeMs),
          ...(request.role === 'server' ? { altNames: request.hostnames } : {}),
        },
        signer,
      );
      const saved = await db.transaction(async (tx) => {
        const saved = await record(tx, { pem, kind: request.role });
        await appendAudit(tx, {
          ...context,
          action: 'pki.certificate.issue',
          target: `${request.role}:${commonName}`,
          after: { serial: saved.serial, notAfter: saved.notAfter, fingerprint: saved.fingerprint, hostnames: request.hostnames },
        });
        return saved;
      });
      return issued(pem, saved);
    },

    async issueHubIdentity(role, hostnames = []) {
      const keys: KeyPairPem = await generateRsaKeyPair(CA_RSA_BITS);
      const now = Date.now();
      const { pem, serial } = signCertificate(
        {
          publicKeyPem: keys.publicKeyPem,
          commonName: role === 'hub' ? HUB_IDENTITY : (hostnames[0] ?? 'campushub-broker'),
          usage: role === 'hub' ? 'client' : 'server',
          notBefore: new Date(now - BACKDATE_MS),
          notAfter: new Date(now + hubLifetimeMs),
          ...(role === 'server' ? { altNames: hostnames } : {}),
        },
        signer,
      );
      await record(db, { pem, kind: role });
      return { keyPem: keys.privateKeyPem, certificatePem: pem, caCertificatePem, serial };
    },

    isRevoked: (serial) => revoked.has(normalizeSerial(serial)),
    onRevoked(listener) {
      revokeListeners.push(listener);
    },
    signUnrecorded(issue) {
      return signCertificate({ usage: 'client', ...issue }, signer).pem;
    },
  };
}
