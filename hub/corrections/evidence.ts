import { createHash } from 'node:crypto';
import type { FastifyReply } from 'fastify';
import type { CorrectionSettings } from '../config.js';
import type { Queryable } from '../db/db.js';
import { HttpError } from '../errors.js';

/**
 * Uploaded evidence and leave documents. They arrive as JSON with the bytes
 * in base64 (no multipart dependency), are checked against a type allowlist,
 * a size limit and the file's own signature (a page of HTML that calls
 * itself a PDF is refused), and are stored once by the SHA-256 of their
 * bytes in `evidence_blobs`. They are served only as downloads, never
 * rendered or executed by the hub.
 */

export type EvidenceSettings = Pick<CorrectionSettings, 'evidenceMaxBytes' | 'evidenceTypes'>;

export interface EvidenceUpload {
  filename: string;
  contentType: string;
  contentBase64: string;
}

export const EvidenceUploadBody = {
  type: 'object',
  additionalProperties: false,
  required: ['filename', 'contentType', 'contentBase64'],
  properties: {
    filename: { type: 'string', minLength: 1, maxLength: 200 },
    contentType: { type: 'string', minLength: 1, maxLength: 100 },
    contentBase64: { type: 'string', minLength: 1, description: 'the file\'s bytes in base64' },
  },
} as const;

export const StoredEvidence = {
  type: 'object',
  required: ['sha256', 'filename', 'contentType', 'sizeBytes'],
  properties: { sha256: { type: 'string' }, filename: { type: 'string' }, contentType: { type: 'string' }, sizeBytes: { type: 'integer' } },
} as const;

/** A download's success response, for the API reference: the bytes, sent as an attachment. */
export const EvidenceDownload = { type: 'string', format: 'binary', description: 'the file, as an attachment (never rendered inline)' } as const;

/** The body limit of an upload route: the base64 of the largest file, and room for the JSON around it. */
export const uploadBodyLimit = (settings: EvidenceSettings) => Math.ceil(settings.evidenceMaxBytes / 3) * 4 + 4096;

/** How each allowed type's files begin. */
const SIGNATURES: Record<string, Buffer> = {
  'application/pdf': Buffer.from('%PDF-'),
  'image/png': Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  'image/jpeg': Buffer.from([0xff, 0xd8, 0xff]),
};

export interface StoredFile {
  sha256: string;
  filename: string;
  contentType: string;
  sizeBytes: number;
}

/** Validates and stores one upload (once per content); returns what to link to the request. */
export async function storeEvidence(tx: Queryable, settings: EvidenceSettings, upload: EvidenceUpload, now: number): Promise<StoredFile> {
  const contentType = upload.contentType.toLowerCase();
  if (!settings.evidenceTypes.includes(contentType)) {
    throw new HttpError(400, 'evidence_type', `files may be ${settings.evidenceTypes.join(', ')}`, { path: '/contentType' });
  }
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(upload.contentBase64) || upload.contentBase64.length % 4 !== 0) {
    throw new HttpError(400, 'evidence_encoding', 'contentBase64 is not base64', { path: '/contentBase64' });
  }
  const bytes = Buffer.from(upload.contentBase64, 'base64');
  if (bytes.length === 0 || bytes.length > settings.evidenceMaxBytes) {
    throw new HttpError(400, 'evidence_size', `a file holds 1 to ${settings.evidenceMaxBytes} bytes`, { path: '/contentBase64', sizeBytes: bytes.length });
  }
  const signature = SIGNATURES[contentType];
  if (signature && !bytes.subarray(0, signature.length).equals(signature)) {
    throw new HttpError(400, 'evidence_content', `the file is not a ${contentType}`, { path: '/contentBase64' });
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  await tx.query(
    `insert into evidence_blobs (sha256, content_type, size_bytes, content, created_at) values ($1, $2, $3, $4, $5) on conflict (sha256) do nothing`,
    [sha256, contentType, bytes.length, bytes, new Date(now)],
  );
  return { sha256, filename: safeFilename(upload.filename), contentType, sizeBytes: bytes.length };
}

/** A name that is safe in a header and on a disk: no path, no quotes, no control characters. */
function safeFilename(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? '';
  const clean = base.replace(/[^A-Za-z0-9._ -]/g, '_').replace(/^\.+/, '').trim();
  return clean.length > 0 ? clean.slice(0, 120) : 'evidence';
}

/** Sends a stored file as a download that browsers neither sniff nor render. */
export async function sendEvidence(q: Queryable, reply: FastifyReply, sha256: string, filename: string): Promise<FastifyReply> {
  const { rows } = await q.query<{ contentType: string; content: Uint8Array }>('select content_type as "contentType", content from evidence_blobs where sha256 = $1', [sha256]);
  const blob = rows[0];
  if (!blob) throw new HttpError(404, 'not_found', 'no such object');
  return reply
    .header('content-type', blob.contentType)
    .header('content-disposition', `attachment; filename="${filename}"`)
    .header('x-content-type-options', 'nosniff')
    .header('content-security-policy', "default-src 'none'; sandbox")
    .header('cache-control', 'private, no-store')
    .send(Buffer.from(blob.content));
}
