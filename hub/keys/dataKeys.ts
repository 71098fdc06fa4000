import type { KeyObject } from 'node:crypto';
import {
  decodeEnvelope,
  decryptPayload,
  encodeEnvelope,
  encryptPayload,
  EnvelopeError,
  envelopeOf,
  generateDataKey,
  payloadOf,
  wrapDataKeyForRecipient,
  type Envelope,
  type EnvelopeContext,
  type KeyWrap,
} from '../../protocol/index.js';
import type { Queryable } from '../db/db.js';
import { KeyError, type Keyring } from './keyring.js';

/**
 * Data keys (DEKs) live in `data_keys`, one per owner ('user:<id>',
 * 'secret:<name>', 'template:<id>'), each wrapped by a KEK with the owner as
 * the wrap's AAD context. Ciphertexts sealed with them are envelopes whose
 * key kind is `external`: the DEK is found through the owner.
 */

interface DataKeyRow {
  id: string | number;
  owner: string;
  kek_id: string;
  wrapped: Uint8Array;
}

/** The AAD context a DEK's wrap is bound to. */
export function wrapContext(owner: string): EnvelopeContext {
  return { owner };
}

export function wrapOfRow(row: { kek_id: string; wrapped: Uint8Array }): KeyWrap {
  return { kind: 'kek', kid: row.kek_id, wrapped: Buffer.from(row.wrapped).toString('base64') };
}

/** The owner's data key, unwrapped, or undefined when it has none (never made, or shredded). */
export async function loadDataKey(tx: Queryable, keyring: Keyring, owner: string): Promise<Buffer | undefined> {
  const { rows } = await tx.query<DataKeyRow>('select id, owner, kek_id, wrapped from data_keys where owner = $1', [owner]);
  const row = rows[0];
  return row ? keyring.unwrap(wrapOfRow(row), wrapContext(owner)) : undefined;
}

/**
 * The owner's data key, made and stored on first use. Two transactions making
 * it at once agree on one key: the loser's insert does nothing (waiting for the
 * winner's commit on Postgres) and it reads the winner's key.
 */
export async function ensureDataKey(tx: Queryable, keyring: Keyring, owner: string): Promise<Buffer> {
  const existing = await loadDataKey(tx, keyring, owner);
  if (existing) return existing;
  const dek = generateDataKey();
  const wrap = keyring.wrap(dek, wrapContext(owner));
  const inserted = await tx.query(
    'insert into data_keys (owner, kek_id, wrapped) values ($1, $2, $3) on conflict (owner) do nothing returning id',
    [owner, wrap.kid, Buffer.from(wrap.wrapped, 'base64')],
  );
  if (inserted.rows.length === 1) return dek;
  const winner = await loadDataKey(tx, keyring, owner);
  if (!winner) throw new Error(`data key for ${owner} vanished while it was being created`);
  return winner;
}

/** Destroys the owner's data key (crypto-shredding); true when there was one. */
export async function destroyDataKey(tx: Queryable, owner: string): Promise<boolean> {
  const { rowCount } = await tx.query('delete from data_keys where owner = $1', [owner]);
  return rowCount > 0;
}

/** Encrypts `plaintext` under the owner's data key; returns the binary envelope (key kind `external`). */
export async function sealOwned(tx: Queryable, keyring: Keyring, owner: string, context: EnvelopeContext, plaintext: Buffer): Promise<Buffer> {
  const dek = await ensureDataKey(tx, keyring, owner);
  return encodeEnvelope(envelopeOf(encryptPayload(dek, plaintext, context), { kind: 'external' }));
}

/** Decrypts what sealOwned made; a shredded owner gets KeyError `data_key_destroyed`. */
export async function openOwned(tx: Queryable, keyring: Keyring, owner: string, context: EnvelopeContext, sealed: Uint8Array): Promise<Buffer> {
  const envelope = decodeEnvelope(sealed);
  if (envelope.key.kind !== 'external') throw new EnvelopeError('malformed', `sealed value for ${owner} carries its own ${envelope.key.kind} key wrap; expected one sealed with the owner's data key`);
  const dek = await loadDataKey(tx, keyring, owner);
  if (!dek) throw new KeyError('data_key_destroyed', `the data key of ${owner} is destroyed (crypto-shredded), so its sealed values can no longer be decrypted`);
  return decryptPayload(dek, payloadOf(envelope), context);
}

/**
 * A self-contained envelope for a recipient (an agent): the same ciphertext
 * with the owner's DEK wrapped for the recipient's RSA public key, never the
 * hub's KEK. The recipient opens it with `openEnvelope(envelope, context,
 * recipientUnwrapper(privateKey, context))`.
 */
export async function envelopeForRecipient(
  tx: Queryable,
  keyring: Keyring,
  owner: string,
  sealed: Uint8Array,
  recipientPublicKey: KeyObject | string | Buffer,
  context: EnvelopeContext,
): Promise<Envelope> {
  const envelope = decodeEnvelope(sealed);
  const dek = await loadDataKey(tx, keyring, owner);
  if (!dek) throw new KeyError('data_key_destroyed', `the data key of ${owner} is destroyed (crypto-shredded); nothing can be sent to a recipient`);
  try {
    // Check that the ciphertext is intact and belongs to this context before handing it out.
    decryptPayload(dek, payloadOf(envelope), context).fill(0);
    return { ...envelope, key: wrapDataKeyForRecipient(dek, recipientPublicKey, context) };
  } finally {
    dek.fill(0);
  }
}
