import { createHash, createPublicKey, generateKeyPair, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { promisify } from 'node:util';
import forge from 'node-forge';

/**
 * Certificate plumbing. Keys are made by node:crypto (OpenSSL; forge's
 * pure-JS key generation takes seconds for 3072 bits) and handed to
 * node-forge, which builds and signs the X.509 structures node:crypto cannot.
 */

export const CA_RSA_BITS = 3072;
const O = 'CampusHub360';

export interface KeyPairPem {
  privateKeyPem: string;
  publicKeyPem: string;
}

export function generateRsaKeyPairSync(bits = CA_RSA_BITS): KeyPairPem {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

const generateKeyPairAsync = promisify(generateKeyPair);

export async function generateRsaKeyPair(bits = CA_RSA_BITS): Promise<KeyPairPem> {
  const { privateKey, publicKey } = await generateKeyPairAsync('rsa', { modulusLength: bits });
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** SHA-256 of the certificate's DER, lowercase hex without separators. */
export function certificateFingerprint(pem: string): string {
  return createHash('sha256').update(new X509Certificate(pem).raw).digest('hex');
}

/** A positive 128-bit serial without a leading zero byte, so every tool prints it the same way. */
export function newSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x10;
  return bytes.toString('hex');
}

/** Serials as OpenSSL and Node print them (upper case, maybe with leading zeros) compared in one form. */
export function normalizeSerial(serial: string): string {
  return serial.toLowerCase().replace(/^0+/, '');
}

export interface VerifiedCsr {
  publicKeyPem: string;
  bits: number;
  commonName: string | null;
}

export class CsrError extends Error {}

/** Parses a PKCS#10 request and checks its self-signature; the subject the agent asked for is ignored. */
export function verifyCsr(csrPem: string): VerifiedCsr {
  let csr: forge.pki.CertificateSigningRequest;
  try {
    csr = forge.pki.certificationRequestFromPem(csrPem);
  } catch (error) {
    throw new CsrError(`not a PEM certificate request (RSA keys only): ${(error as Error).message}`);
  }
  let verified = false;
  try {
    verified = csr.verify();
  } catch {
    // forge throws on a signature block that does not even decrypt.
  }
  if (!verified) throw new CsrError('the request\'s signature does not verify');
  const publicKey = csr.publicKey as forge.pki.rsa.PublicKey | null;
  if (!publicKey?.n) throw new CsrError('the request carries no RSA public key');
  const publicKeyPem = forge.pki.publicKeyToPem(publicKey);
  const bits = createPublicKey(publicKeyPem).asymmetricKeyDetails?.modulusLength ?? publicKey.n.bitLength();
  const cn = csr.subject.getField('CN') as { value: string } | null;
  return { publicKeyPem, bits, commonName: cn?.value ?? null };
}

/** A request for `commonName`, signed by the key (for agents and tools; the hub ignores the subject). */
export function createCsr(keys: KeyPairPem, commonName: string): string {
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.publicKeyFromPem(keys.publicKeyPem);
  csr.setSubject([{ name: 'commonName', value: commonName }]);
  csr.sign(forge.pki.privateKeyFromPem(keys.privateKeyPem), forge.md.sha256.create());
  return forge.pki.certificationRequestToPem(csr);
}

export type CertificateUsage = 'ca' | 'client' | 'server';

export interface IssueOptions {
  publicKeyPem: string;
  commonName: string;
  /** The organizational unit; agents carry their campus here as well as in the common name. */
  organizationalUnit?: string;
  usage: CertificateUsage;
  notBefore: Date;
  notAfter: Date;
  /** DNS names and IP addresses of a server certificate. */
  altNames?: string[];
  serial?: string;
}

export interface Signer {
  certificatePem: string;
  privateKeyPem: string;
}

/** Signs a certificate; `signer` undefined makes it self-signed (the CA). */
export function signCertificate(options: IssueOptions, signer: Signer | undefined, selfKeyPem?: string): { pem: string; serial: string } {
  const cert = forge.pki.createCertificate();
  const serial = options.serial ?? newSerial();
  cert.serialNumber = serial;
  cert.publicKey = forge.pki.publicKeyFromPem(options.publicKeyPem);
  cert.validity.notBefore = options.notBefore;
  cert.validity.notAfter = options.notAfter;
  const subject: forge.pki.CertificateField[] = [{ name: 'organizationName', value: O }];
  if (options.organizationalUnit) subject.push({ shortName: 'OU', value: options.organizationalUnit });
  subject.push({ name: 'commonName', value: options.commonName });
  cert.setSubject(subject);
  const issuer = signer ? forge.pki.certificateFromPem(signer.certificatePem) : undefined;
  cert.setIssuer(issuer ? issuer.subject.attributes : subject);
  const extensions: Record<string, unknown>[] = [];
  if (options.usage === 'ca') {
    extensions.push({ name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true });
    extensions.push({ name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true });
  } else {
    extensions.push({ name: 'basicConstraints', cA: false, critical: true });
    extensions.push({ name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true });
    extensions.push({ name: 'extKeyUsage', clientAuth: options.usage === 'client', serverAuth: options.usage === 'server' });
  }
  if (options.altNames?.length) {
    extensions.push({
      name: 'subjectAltName',
      altNames: options.altNames.map((name) => (isIP(name) ? { type: 7, ip: name } : { type: 2, value: name })),
    });
  }
  extensions.push({ name: 'subjectKeyIdentifier' });
  if (issuer) {
    const keyIdentifier = issuer.generateSubjectKeyIdentifier().getBytes();
    extensions.push({ name: 'authorityKeyIdentifier', keyIdentifier });
  }
  cert.setExtensions(extensions);
  const keyPem = signer ? signer.privateKeyPem : selfKeyPem;
  if (!keyPem) throw new Error('a self-signed certificate needs its own key');
  cert.sign(forge.pki.privateKeyFromPem(keyPem), forge.md.sha256.create());
  return { pem: forge.pki.certificateToPem(cert), serial };
}

export interface ParsedCertificate {
  serial: string;
  commonName: string | null;
  notBefore: Date;
  notAfter: Date;
  fingerprint: string;
  x509: X509Certificate;
}

export function parseCertificate(pem: string): ParsedCertificate {
  const x509 = new X509Certificate(pem);
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(x509.subject);
  return {
    serial: normalizeSerial(x509.serialNumber),
    commonName: cn ? cn[1]! : null,
    notBefore: new Date(x509.validFrom),
    notAfter: new Date(x509.validTo),
    fingerprint: createHash('sha256').update(x509.raw).digest('hex'),
    x509,
  };
}
