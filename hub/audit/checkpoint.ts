import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Queryable } from '../db/db.js';

/**
 * Signed checkpoints of the audit chain's head, written outside the database
 * (docs/audit.md). A checkpoint is a JSON file:
 *
 *   { "v": 1, "seq": 1234, "hash": "<hex>", "at": "<ISO instant>", "signature": "<base64>" }
 *
 * where the signature is Ed25519 over the UTF-8 of `{"v":1,"seq":…,"hash":"…","at":"…"}`
 * (those four keys in that order, no whitespace). The signing key is a PKCS#8
 * PEM file outside the database; its public key is written beside the
 * checkpoints (`checkpoint-key.pub.pem`) for whoever verifies.
 */
export interface AuditCheckpoint {
  seq: number;
  hash: string;
  at: string;
}

export const CHECKPOINT_PUBLIC_KEY_FILE = 'checkpoint-key.pub.pem';
/** How often the scheduler writes a checkpoint. */
export const CHECKPOINT_EVERY_MS = 15 * 60_000;

const CHECKPOINT_FILE = /^checkpoint-(\d{20})\.json$/;

function signedText(checkpoint: AuditCheckpoint): string {
  return `{"v":1,"seq":${checkpoint.seq},"hash":${JSON.stringify(checkpoint.hash)},"at":${JSON.stringify(checkpoint.at)}}`;
}

/** The Ed25519 signing key at `file`, created (mode 0600) when there is none yet. */
export function loadOrCreateCheckpointKey(file: string): KeyObject {
  if (existsSync(file)) return createPrivateKey(readFileSync(file));
  mkdirSync(dirname(file), { recursive: true });
  const { privateKey } = generateKeyPairSync('ed25519');
  writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
  return privateKey;
}

/** The public key to check checkpoints with: a public PEM, or derived from the private key file. */
export function loadCheckpointPublicKey(file: string): KeyObject {
  const pem = readFileSync(file, 'utf8');
  return pem.includes('PRIVATE KEY') ? createPublicKey(createPrivateKey(pem)) : createPublicKey(pem);
}

/** The sealed head of the chain, or null while nothing is sealed. */
export async function chainHead(db: Queryable): Promise<{ seq: number; hash: string } | null> {
  const { rows } = await db.query<{ seq: string; hash: string }>(
    `select seq::text as seq, encode(hash, 'hex') as hash from audit_log where seq is not null order by audit_log.seq desc limit 1`,
  );
  return rows[0] ? { seq: Number(rows[0].seq), hash: rows[0].hash } : null;
}

/**
 * Signs the current head into `dir` unless the latest checkpoint there already
 * names it. The file appears whole (written aside, then renamed). Returns the
 * checkpoint written, or null.
 */
export async function writeCheckpoint(db: Queryable, dir: string, key: KeyObject, at: Date): Promise<AuditCheckpoint | null> {
  const head = await chainHead(db);
  if (!head) return null;
  mkdirSync(dir, { recursive: true });
  const publicKeyFile = join(dir, CHECKPOINT_PUBLIC_KEY_FILE);
  if (!existsSync(publicKeyFile)) writeFileSync(publicKeyFile, createPublicKey(key).export({ type: 'spki', format: 'pem' }));
  const latest = latestCheckpointFile(dir);
  if (latest && Number(CHECKPOINT_FILE.exec(latest)![1]) === head.seq) return null;
  const checkpoint: AuditCheckpoint = { ...head, at: at.toISOString() };
  const signature = sign(null, Buffer.from(signedText(checkpoint)), key).toString('base64');
  const file = join(dir, `checkpoint-${String(head.seq).padStart(20, '0')}.json`);
  writeFileSync(`${file}.partial`, `${JSON.stringify({ v: 1, ...checkpoint, signature })}\n`);
  renameSync(`${file}.partial`, file);
  return checkpoint;
}

function latestCheckpointFile(dir: string): string | undefined {
  return readdirSync(dir).filter((name) => CHECKPOINT_FILE.test(name)).sort().at(-1);
}

export interface CheckpointReading {
  /** Checkpoints with a good signature, in seq order. */
  checkpoints: AuditCheckpoint[];
  /** Files that are not a well-formed checkpoint signed by the key, by name. */
  rejected: string[];
}

/** Every checkpoint in `dir` whose signature `publicKey` verifies. */
export function readCheckpoints(dir: string, publicKey: KeyObject): CheckpointReading {
  const checkpoints: AuditCheckpoint[] = [];
  const rejected: string[] = [];
  if (!existsSync(dir)) return { checkpoints, rejected };
  for (const name of readdirSync(dir).filter((file) => CHECKPOINT_FILE.test(file)).sort()) {
    try {
      const parsed = JSON.parse(readFileSync(join(dir, name), 'utf8')) as Partial<AuditCheckpoint> & { v?: unknown; signature?: unknown };
      const checkpoint = { seq: parsed.seq, hash: parsed.hash, at: parsed.at } as AuditCheckpoint;
      const wellFormed = parsed.v === 1 && Number.isSafeInteger(checkpoint.seq) && /^[0-9a-f]{64}$/.test(String(checkpoint.hash)) && typeof checkpoint.at === 'string';
      if (wellFormed && typeof parsed.signature === 'string' && verify(null, Buffer.from(signedText(checkpoint)), publicKey, Buffer.from(parsed.signature, 'base64'))) {
        checkpoints.push(checkpoint);
      } else {
        rejected.push(name);
      }
    } catch {
      rejected.push(name);
    }
  }
  return { checkpoints, rejected };
}

/** Where checkpoints go and which key signs them: configured, else under the PGlite data directory, else nowhere. */
export function checkpointLocation(audit: { checkpointDir: string | undefined; checkpointKeyFile: string | undefined }, dataDir: string | undefined): { dir: string; keyFile: string } | undefined {
  const dir = audit.checkpointDir ?? (dataDir ? join(dataDir, 'audit', 'checkpoints') : undefined);
  const keyFile = audit.checkpointKeyFile ?? (dataDir ? join(dataDir, 'audit', 'checkpoint-key.pem') : undefined);
  return dir && keyFile ? { dir, keyFile } : undefined;
}
