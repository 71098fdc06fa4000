import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { personalQrPublicKeyText, signPersonalQr } from '../../protocol/index.js';
import type { SecretStore } from '../keys/index.js';

/** How long a personal QR code holds: long enough to walk up to the door, short enough that a photo of it is soon useless. */
export const PERSONAL_QR_TTL_SECONDS = 60;

export interface PersonalQrSigner {
  /** base64 SPKI DER, as agents receive it in their offline cache. */
  publicKeyText: string;
  issue(studentId: string, atMs: number): { code: string; expiresAt: Date };
}

/**
 * The hub's Ed25519 key for students' personal QR codes, kept sealed in the
 * SecretStore like the hub's other secrets (made on first start).
 */
export async function createPersonalQrSigner(secrets: SecretStore): Promise<PersonalQrSigner> {
  const der = await secrets.getOrCreate('personal-qr.signing-key', () => generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'der' }));
  const privateKey: KeyObject = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  der.fill(0);
  return {
    publicKeyText: personalQrPublicKeyText(privateKey),
    issue(studentId, atMs) {
      const { code, claims } = signPersonalQr(privateKey, studentId, atMs, PERSONAL_QR_TTL_SECONDS);
      return { code, expiresAt: new Date(claims.exp * 1000) };
    },
  };
}
