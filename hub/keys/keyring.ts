import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { EnvelopeError, unwrapDataKey, wrapDataKey, type EnvelopeContext, type KeyWrap } from '../../protocol/index.js';

export type KeyErrorCode =
  | 'keys_not_configured'
  | 'keys_ambiguous'
  | 'key_file_unsafe'
  | 'key_file_invalid'
  | 'key_file_missing'
  | 'keys_env_invalid'
  | 'kek_missing'
  | 'kek_in_use'
  | 'data_key_destroyed';

/** A problem with key configuration or key state. Messages never contain key material. */
export class KeyError extends Error {
  override readonly name = 'KeyError';
  constructor(
    readonly code: KeyErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** The key file name the development helper creates in the hub's data directory. */
export const DEV_KEY_FILE_NAME = 'hub-keys.json';
export const KEY_FILE_ENV = 'CAMPUSHUB_KEY_FILE';
export const KEKS_ENV = 'CAMPUSHUB_KEKS';
const KEK_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/** The key file's contents: `{"active": "k2", "keys": {"k1": "<base64 32 bytes>", "k2": "…"}}`. */
export interface KeyFileContents {
  active: string;
  keys: Record<string, string>;
}

/**
 * The key-encryption keys. KEKs only ever wrap data keys; they come from a key
 * file or the environment, never from the database.
 */
export interface Keyring {
  /** The KEK new data keys are wrapped under. */
  readonly activeId: string;
  /** Every KEK id, active first. */
  ids(): string[];
  has(kid: string): boolean;
  /** Wraps a data key under the active KEK (or under `kid`). */
  wrap(dek: Buffer, context: EnvelopeContext, kid?: string): KeyWrap & { kind: 'kek' };
  /** Unwraps a data key; a file-backed keyring re-reads its file once when asked for a KEK it does not know. */
  unwrap(wrap: KeyWrap, context: EnvelopeContext): Buffer;
  /** Where the keys came from, for messages: `key file /path` or `CAMPUSHUB_KEKS`. */
  readonly source: string;
  /** The key file, when the keys came from one. */
  readonly keyFile?: string;
}

function decodeKek(kid: string, text: unknown, where: string): Buffer {
  if (!KEK_ID_PATTERN.test(kid)) throw new KeyError('key_file_invalid', `${where}: key id ${JSON.stringify(kid)} must be 1 to 64 characters of A-Z a-z 0-9 . _ -`);
  const key = typeof text === 'string' ? Buffer.from(text, 'base64') : Buffer.alloc(0);
  if (typeof text !== 'string' || key.length !== 32 || key.toString('base64') !== text.trim()) {
    throw new KeyError('key_file_invalid', `${where}: key "${kid}" must be 32 bytes in base64 (44 characters)`);
  }
  return key;
}

function keysOf(contents: KeyFileContents, where: string): Map<string, Buffer> {
  const keys = new Map<string, Buffer>();
  for (const [kid, text] of Object.entries(contents.keys)) keys.set(kid, decodeKek(kid, text, where));
  if (!keys.has(contents.active)) throw new KeyError('key_file_invalid', `${where}: the active key ${JSON.stringify(contents.active)} is not among its keys`);
  return keys;
}

/** A keyring over fixed keys (tests, the environment). */
export function keyringFromKeys(activeId: string, keys: ReadonlyMap<string, Buffer> | Record<string, Buffer>, source = 'memory'): Keyring {
  const map = new Map(keys instanceof Map ? keys : Object.entries(keys));
  if (!map.has(activeId)) throw new KeyError('kek_missing', `the active key-encryption key "${activeId}" is not in ${source}`);
  return createKeyring(() => ({ activeId, keys: map }), source);
}

function createKeyring(load: () => { activeId: string; keys: Map<string, Buffer> }, source: string, keyFile?: string, reloadable = false): Keyring {
  let state = load();
  const lookup = (kid: string) => state.keys.get(kid);
  return {
    get activeId() {
      return state.activeId;
    },
    ids: () => [state.activeId, ...[...state.keys.keys()].filter((kid) => kid !== state.activeId).sort()],
    has: (kid) => state.keys.has(kid),
    wrap(dek, context, kid = state.activeId) {
      const key = state.keys.get(kid);
      if (!key) throw new KeyError('kek_missing', `key-encryption key "${kid}" is not in ${source}`);
      return wrapDataKey(dek, { id: kid, key }, context) as KeyWrap & { kind: 'kek' };
    },
    unwrap(wrap, context) {
      if (reloadable && wrap.kind === 'kek' && !state.keys.has(wrap.kid)) {
        // Another process (`campushub keys rotate`) may have added a key since this one started.
        state = load();
      }
      try {
        return unwrapDataKey(wrap, lookup, context);
      } catch (error) {
        if (error instanceof EnvelopeError && error.code === 'unknown_key' && wrap.kind === 'kek') {
          throw new KeyError('kek_missing', `key-encryption key "${wrap.kid}" is not in ${source} (it has ${[...state.keys.keys()].join(', ')}); was it retired too early?`);
        }
        throw error;
      }
    },
    source,
    keyFile,
  };
}

// ---- key files ---------------------------------------------------------------

/** Reads and checks a key file; refuses one that other users can read or write. */
export function readKeyFile(path: string): KeyFileContents {
  if (!existsSync(path)) throw new KeyError('key_file_missing', `key file ${path} does not exist`);
  if (process.platform !== 'win32') {
    const mode = statSync(path).mode & 0o777;
    if ((mode & 0o007) !== 0) {
      throw new KeyError('key_file_unsafe', `key file ${path} is accessible to every user (mode ${mode.toString(8).padStart(4, '0')}); run \`chmod 600 ${path}\``);
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new KeyError('key_file_invalid', `key file ${path} is not valid JSON: ${(error as Error).message}`);
  }
  const record = parsed as Partial<KeyFileContents> | null;
  if (!record || typeof record !== 'object' || typeof record.active !== 'string' || !record.keys || typeof record.keys !== 'object' || Array.isArray(record.keys)) {
    throw new KeyError('key_file_invalid', `key file ${path} must hold {"active": "<key id>", "keys": {"<key id>": "<base64 of 32 bytes>", …}}`);
  }
  const contents = { active: record.active, keys: { ...record.keys } };
  keysOf(contents, `key file ${path}`);
  return contents;
}

/** Writes a key file atomically (temporary file, fsync, rename) with mode 0600. */
export function writeKeyFile(path: string, contents: KeyFileContents): void {
  keysOf(contents, 'new key file contents');
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(temporary, 'wx', 0o600);
  try {
    writeSync(fd, `${JSON.stringify(contents, null, 2)}\n`);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    unlinkSync(temporary);
    throw error;
  }
  closeSync(fd);
  chmodSync(temporary, 0o600);
  renameSync(temporary, path);
  try {
    // Make the rename durable too.
    const dirFd = openSync(dirname(path), 'r');
    fsyncSync(dirFd);
    closeSync(dirFd);
  } catch {
    // Not every platform can fsync a directory.
  }
}

/** A new random KEK in key-file form. */
export function newKekText(): string {
  return randomBytes(32).toString('base64');
}

/** A key id for a new KEK: `k<n+1>` after the highest `k<n>` present, else `k1`. */
export function nextKekId(existing: Iterable<string>): string {
  let highest = 0;
  for (const kid of existing) {
    const match = /^k(\d+)$/.exec(kid);
    if (match) highest = Math.max(highest, Number(match[1]));
  }
  return `k${highest + 1}`;
}

export function keyringFromFile(path: string): Keyring {
  const absolute = resolve(path);
  return createKeyring(
    () => {
      const contents = readKeyFile(absolute);
      return { activeId: contents.active, keys: keysOf(contents, `key file ${absolute}`) };
    },
    `key file ${absolute}`,
    absolute,
    true,
  );
}

/**
 * `CAMPUSHUB_KEKS`: comma-separated `<key id>:<base64 of 32 bytes>` entries,
 * the first being the active key, e.g. `k2:AbC…=,k1:XyZ…=`. (Base64 has no
 * comma or colon.)
 */
export function parseKeksEnv(text: string): Keyring {
  const keys = new Map<string, Buffer>();
  let active: string | undefined;
  for (const entry of text.split(',').map((part) => part.trim()).filter((part) => part !== '')) {
    const colon = entry.indexOf(':');
    if (colon <= 0) throw new KeyError('keys_env_invalid', `${KEKS_ENV} must be comma-separated <key id>:<base64 key> entries, the active key first`);
    const kid = entry.slice(0, colon);
    if (keys.has(kid)) throw new KeyError('keys_env_invalid', `${KEKS_ENV} names key "${kid}" twice`);
    try {
      keys.set(kid, decodeKek(kid, entry.slice(colon + 1), KEKS_ENV));
    } catch (error) {
      throw new KeyError('keys_env_invalid', (error as Error).message);
    }
    active ??= kid;
  }
  if (active === undefined) throw new KeyError('keys_env_invalid', `${KEKS_ENV} is set but holds no keys`);
  return keyringFromKeys(active, keys, KEKS_ENV);
}

export interface LoadKeyringOptions {
  /** `--key-file`; falls back to `CAMPUSHUB_KEY_FILE` in `env`. */
  keyFile?: string;
  env?: Readonly<Record<string, string | undefined>>;
  /** The hub's data directory, where the development key file is made when nothing is configured. */
  dataDir?: string;
  /** Make a development key file when no keys are configured (default true). */
  createDevKeyFile?: boolean;
}

export interface LoadedKeyring {
  keyring: Keyring;
  /** Things to log at warn level (a development key file in use). */
  warnings: string[];
}

/**
 * Loads the KEKs: from the key file (`--key-file` or `CAMPUSHUB_KEY_FILE`), else
 * from `CAMPUSHUB_KEKS`, else from the development key file
 * `<dataDir>/hub-keys.json`, created (mode 0600) on first use.
 */
export function loadKeyring(options: LoadKeyringOptions = {}): LoadedKeyring {
  const env = options.env ?? {};
  const keyFile = options.keyFile || env[KEY_FILE_ENV] || undefined;
  const keksText = env[KEKS_ENV] || undefined;
  if (keyFile && keksText) throw new KeyError('keys_ambiguous', `both a key file (${keyFile}) and ${KEKS_ENV} are set; configure the KEKs in one place only`);
  if (keyFile) return { keyring: keyringFromFile(keyFile), warnings: [] };
  if (keksText) return { keyring: parseKeksEnv(keksText), warnings: [] };

  if (!options.dataDir || options.createDevKeyFile === false) {
    throw new KeyError(
      'keys_not_configured',
      `no key-encryption keys configured: give --key-file (or ${KEY_FILE_ENV}) or set ${KEKS_ENV}${options.dataDir ? '' : ' (with Postgres there is no data directory for a development key file)'}`,
    );
  }
  const path = resolve(join(options.dataDir, DEV_KEY_FILE_NAME));
  const warnings: string[] = [];
  if (!existsSync(path)) {
    writeKeyFile(path, { active: 'k1', keys: { k1: newKekText() } });
    warnings.push(`created a development key file ${path}; for production keep the key-encryption keys outside the data directory and give --key-file or ${KEKS_ENV}`);
  } else {
    warnings.push(`using the development key file ${path} in the data directory; for production give --key-file or ${KEKS_ENV}`);
  }
  return { keyring: keyringFromFile(path), warnings };
}
