import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { decodeEnvelope, openEnvelope, recipientUnwrapper, type EnvelopeContext } from '../../protocol/index.js';
import type { SecretStore } from '../keys/index.js';

export interface TemplateIntake {
  /** SPKI PEM, sent to an agent with each capture request. */
  publicKeyPem(): Promise<string>;
  /** Opens a template an agent sealed for the intake key; the caller zeroes the bytes. */
  open(envelopeBase64: string, context: EnvelopeContext): Promise<Buffer>;
}

/**
 * The hub's RSA key for templates captured at devices: agents seal what they
 * read from a terminal for it, so the template is in the clear only inside
 * the capture command at the agent and the enrolling request at the hub. The
 * private key is a hub secret (SecretStore `templates.intake-key`), made at
 * the first capture (an RSA key takes a moment; most hubs never need one).
 */
export function createTemplateIntake(secrets: SecretStore): TemplateIntake {
  let key: Promise<KeyObject> | undefined;
  const privateKey = () =>
    (key ??= secrets
      .getOrCreate('templates.intake-key', () => generateKeyPairSync('rsa', { modulusLength: 3072 }).privateKey.export({ type: 'pkcs8', format: 'der' }))
      .then((der) => {
        const loaded = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
        der.fill(0);
        return loaded;
      })
      .catch((error: unknown) => {
        // Not remembered: the next capture tries again.
        key = undefined;
        throw error;
      }));
  return {
    publicKeyPem: async () => createPublicKey(await privateKey()).export({ type: 'spki', format: 'pem' }).toString(),
    open: async (envelopeBase64, context) => openEnvelope(decodeEnvelope(Buffer.from(envelopeBase64, 'base64')), context, recipientUnwrapper(await privateKey(), context)),
  };
}
