import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { appendAudit } from '../../hub/audit/append.js';
import { openDb, type Db } from '../../hub/db/db.js';
import { migrate } from '../../hub/db/migrate.js';
import {
  DEV_KEY_FILE_NAME,
  KEKS_ENV,
  KeyError,
  countDataKeysByKek,
  keyringFromFile,
  newKekText,
  nextKekId,
  parseKeksEnv,
  readKeyFile,
  rotateKeys,
  writeKeyFile,
  type Keyring,
} from '../../hub/keys/index.js';
import type { ParsedArgs } from '../commands/command.js';
import { integerArg, stringArg, UsageError } from './args.js';
import { createProgressBar } from './progress.js';

const AUDIT = { actor: 'cli', source: 'cli' as const };

/** Where the KEKs are: the key file (given, or the development one in the data directory), else CAMPUSHUB_KEKS. */
function keySource(args: ParsedArgs, env: NodeJS.ProcessEnv): { keyFile: string } | { envKeys: string } {
  const keyFile = stringArg(args, 'key-file');
  if (keyFile) return { keyFile: resolve(keyFile) };
  if (env[KEKS_ENV]) return { envKeys: env[KEKS_ENV] };
  if (!stringArg(args, 'database-url')) {
    const dev = resolve(join(stringArg(args, 'data-dir') ?? './data/hub', DEV_KEY_FILE_NAME));
    if (existsSync(dev)) return { keyFile: dev };
    throw new KeyError('keys_not_configured', `no key file: give --key-file (or CAMPUSHUB_KEY_FILE); the development key file ${dev} does not exist`);
  }
  throw new KeyError('keys_not_configured', `no key file: give --key-file (or CAMPUSHUB_KEY_FILE), or set ${KEKS_ENV}`);
}

async function withDb<T>(args: ParsedArgs, work: (db: Db) => Promise<T>): Promise<T> {
  const databaseUrl = stringArg(args, 'database-url');
  const db = await openDb({ databaseUrl, dataDir: databaseUrl ? undefined : (stringArg(args, 'data-dir') ?? './data/hub'), poolSize: 2 });
  try {
    await migrate(db);
    return await work(db);
  } finally {
    await db.close();
  }
}

function pendingCount(counts: Map<string, number>, activeId: string): number {
  let pending = 0;
  for (const [kid, count] of counts) if (kid !== activeId) pending += count;
  return pending;
}

function checkKeyringCovers(keyring: Keyring, counts: Map<string, number>): void {
  const missing = [...counts].filter(([kid]) => !keyring.has(kid));
  if (missing.length > 0) {
    throw new KeyError(
      'kek_missing',
      `${keyring.source} lacks KEKs that data keys are wrapped by (${missing.map(([kid, count]) => `${count} under "${kid}"`).join(', ')}); nothing was re-wrapped`,
    );
  }
}

async function rotate(args: ParsedArgs, db: Db): Promise<number> {
  const batchSize = integerArg(args, 'batch-size', 1, 100_000);
  const rewrapOnly = args.values['rewrap-only'] === true;
  const source = keySource(args, process.env);
  const counts = await countDataKeysByKek(db);
  let keyring: Keyring;

  if ('envKeys' in source) {
    if (!rewrapOnly) {
      throw new KeyError(
        'keys_not_configured',
        `the KEKs come from ${KEKS_ENV}, which this command cannot change: put a new key first in ${KEKS_ENV}, restart the hubs, then run \`campushub keys rotate --rewrap-only\``,
      );
    }
    keyring = parseKeksEnv(source.envKeys);
  } else {
    const contents = readKeyFile(source.keyFile);
    const pending = pendingCount(counts, contents.active);
    if (rewrapOnly || pending > 0) {
      process.stderr.write(`${pending} data key(s) are not under the active KEK "${contents.active}" yet; re-wrapping them (no new key added)\n`);
    } else {
      const newId = nextKekId(Object.keys(contents.keys));
      writeKeyFile(source.keyFile, { active: newId, keys: { ...contents.keys, [newId]: newKekText() } });
      process.stderr.write(`added KEK "${newId}" to ${source.keyFile} and made it active\n`);
    }
    keyring = keyringFromFile(source.keyFile);
  }
  checkKeyringCovers(keyring, counts);

  const bar = createProgressBar(pendingCount(counts, keyring.activeId), { label: 're-wrapping data keys' });
  const result = await rotateKeys({ db, keyring, batchSize, ...AUDIT, onProgress: ({ rewrapped, total }) => bar.update(rewrapped, total) });
  bar.finish();
  const older = keyring.ids().filter((kid) => kid !== keyring.activeId);
  console.log(
    `re-wrapped ${result.rewrapped} data key(s) under "${result.kekId}" in ${result.batches} batch(es); ${result.alreadyCurrent} were already under it.` +
      (older.length > 0
        ? ` Restart every hub with ${keyring.source}, run \`campushub keys rotate --rewrap-only\` once more, then retire the old key(s): ${older.map((kid) => `campushub keys retire ${kid}`).join(', ')}`
        : ''),
  );
  return 0;
}

async function retire(args: ParsedArgs, db: Db, kid: string): Promise<number> {
  const source = keySource(args, process.env);
  if ('envKeys' in source) throw new KeyError('keys_not_configured', `the KEKs come from ${KEKS_ENV}: remove "${kid}" there yourself once \`campushub keys rotate --rewrap-only\` has run`);
  const contents = readKeyFile(source.keyFile);
  if (!(kid in contents.keys)) throw new UsageError(`there is no key "${kid}" in ${source.keyFile} (it has ${Object.keys(contents.keys).join(', ')})`);
  if (kid === contents.active) throw new KeyError('kek_in_use', `"${kid}" is the active KEK; run \`campushub keys rotate\` first so that another key becomes active`);
  const inUse = (await countDataKeysByKek(db)).get(kid) ?? 0;
  if (inUse > 0) {
    throw new KeyError(
      'kek_in_use',
      `refusing to retire "${kid}": ${inUse} data key(s) are still wrapped by it; restart every hub with ${source.keyFile}, run \`campushub keys rotate --rewrap-only\`, then retry`,
    );
  }
  const keys = { ...contents.keys };
  delete keys[kid];
  writeKeyFile(source.keyFile, { active: contents.active, keys });
  await db.transaction((tx) => appendAudit(tx, { ...AUDIT, action: 'keys.retire', target: `kek:${kid}`, after: { retired: kid, remaining: Object.keys(keys) } }));
  console.log(`retired KEK "${kid}" from ${source.keyFile}; remaining: ${Object.keys(keys).join(', ')}`);
  return 0;
}

export async function runKeys(args: ParsedArgs): Promise<number> {
  const [action, kid] = args.positionals;
  if (action === 'rotate') {
    if (kid !== undefined) throw new UsageError(`keys rotate takes no key id (got ${JSON.stringify(kid)})`);
    return withDb(args, (db) => rotate(args, db));
  }
  if (action === 'retire') {
    if (kid === undefined) throw new UsageError('keys retire needs the id of the KEK to retire, e.g. `campushub keys retire k1`');
    return withDb(args, (db) => retire(args, db, kid));
  }
  throw new UsageError(`unknown keys action ${JSON.stringify(action)}: use rotate or retire`);
}
