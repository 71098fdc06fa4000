import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EnvelopeError, openEnvelope, recipientUnwrapper } from '../../protocol/index.js';
import { openDb } from '../db/db.js';
import { migrate } from '../db/migrate.js';
import { openTestDb, keyringOf, randomKeks } from '../../test/support/keys.js';
import { tempDir } from '../../test/support/tempDir.js';
import {
  DEV_KEY_FILE_NAME,
  KeyError,
  countDataKeysByKek,
  createFieldCipher,
  createSecretStore,
  envelopeForRecipient,
  loadKeyring,
  openHubKeys,
  readKeyFile,
  rotateKeys,
  sealOwned,
  writeKeyFile,
  type KeyErrorCode,
  type RotationProgress,
} from './index.js';

function keyError(code: KeyErrorCode, message?: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof KeyError, `expected a KeyError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (message) assert.match(error.message, message);
    return true;
  };
}

function envelopeError(code: string, message?: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof EnvelopeError, `expected an EnvelopeError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (message) assert.match(error.message, message);
    return true;
  };
}

test('key file: loaded with its active key, refused when world-readable, written atomically with mode 0600', (t) => {
  const dir = tempDir(t, 'keys');
  const path = join(dir, 'keys.json');
  const keks = randomKeks('k1', 'k2');
  writeKeyFile(path, { active: 'k2', keys: { k1: keks.k1!.toString('base64'), k2: keks.k2!.toString('base64') } });
  assert.equal(statSync(path).mode & 0o777, 0o600);
  const { keyring, warnings } = loadKeyring({ keyFile: path });
  assert.deepEqual([keyring.activeId, keyring.ids(), warnings], ['k2', ['k2', 'k1'], []]);

  chmodSync(path, 0o644);
  assert.throws(() => loadKeyring({ env: { CAMPUSHUB_KEY_FILE: path } }), keyError('key_file_unsafe', /accessible to every user \(mode 0644\).*chmod 600/));
  chmodSync(path, 0o600);

  writeFileSync(join(dir, 'bad.json'), JSON.stringify({ active: 'k9', keys: { k1: keks.k1!.toString('base64') } }), { mode: 0o600 });
  assert.throws(() => readKeyFile(join(dir, 'bad.json')), keyError('key_file_invalid', /active key "k9" is not among its keys/));
  writeFileSync(join(dir, 'short.json'), JSON.stringify({ active: 'k1', keys: { k1: 'c2hvcnQ=' } }), { mode: 0o600 });
  assert.throws(() => readKeyFile(join(dir, 'short.json')), keyError('key_file_invalid', /"k1" must be 32 bytes/));
  assert.throws(() => loadKeyring({ keyFile: path, env: { CAMPUSHUB_KEKS: 'x' } }), keyError('keys_ambiguous'));
});

test('CAMPUSHUB_KEKS holds <id>:<base64> entries, the first active; malformed values are refused without echoing them', () => {
  const keks = randomKeks('k2', 'k1');
  const { keyring } = loadKeyring({ env: { CAMPUSHUB_KEKS: `k2:${keks.k2!.toString('base64')}, k1:${keks.k1!.toString('base64')}` } });
  assert.deepEqual([keyring.activeId, keyring.ids()], ['k2', ['k2', 'k1']]);
  assert.throws(() => loadKeyring({ env: { CAMPUSHUB_KEKS: 'k1:notakey' } }), (error: unknown) => {
    assert.ok(error instanceof KeyError && error.code === 'keys_env_invalid' && !error.message.includes('notakey'), String(error));
    return true;
  });
  assert.throws(() => loadKeyring({ env: {} }), keyError('keys_not_configured', /--key-file.*CAMPUSHUB_KEKS/));
});

test('without configured keys a development key file is made in the PGlite data directory, and the database still opens', async (t) => {
  const dataDir = tempDir(t, 'hub-data');
  const db = await openDb({ dataDir });
  await migrate(db);
  const warnings: string[] = [];
  const keys = await openHubKeys({ db, dataDir, env: {}, logger: { warn: (message) => warnings.push(message) } });
  const path = join(dataDir, DEV_KEY_FILE_NAME);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.match(keys.warnings[0]!, /created a development key file .*hub-keys\.json/);
  assert.deepEqual(warnings, keys.warnings);
  const sealed = await keys.fields.seal(db, 'user:1', 'phone', '+91 98450 00001');
  await db.close();

  const reopened = await openDb({ dataDir });
  t.after(() => reopened.close());
  const again = await openHubKeys({ db: reopened, dataDir, env: {} });
  assert.match(again.warnings[0]!, /using the development key file/);
  assert.equal(await again.fields.open(reopened, 'user:1', 'phone', sealed), '+91 98450 00001');
  assert.equal(readKeyFile(path).active, 'k1');
});

test('field values open only for their subject and field; a flipped bit fails; shredding destroys them for good', async (t) => {
  const { db } = await openTestDb(t);
  const fields = createFieldCipher(keyringOf(randomKeks('k1'), 'k1'));
  const phone = await db.transaction((tx) => fields.seal(tx, 'user:1', 'phone', '+91 98450 00001'));
  const email = await fields.seal(db, 'user:1', 'email', 'asha@example.edu');
  await fields.seal(db, 'user:2', 'phone', '+91 98450 00002');
  assert.equal(await fields.open(db, 'user:1', 'phone', phone), '+91 98450 00001');
  assert.equal(await fields.open(db, 'user:1', 'email', email), 'asha@example.edu');
  assert.equal((await db.query('select * from data_keys')).rows.length, 2, 'one data key per subject');

  await assert.rejects(fields.open(db, 'user:2', 'phone', phone), envelopeError('authentication_failed', /cannot open field "phone" of user:2: .*moved to another row/));
  await assert.rejects(fields.open(db, 'user:1', 'email', phone), envelopeError('authentication_failed', /field "email" of user:1/));
  for (const index of [0, 1, 2, 20, phone.length - 1]) {
    const flipped = Buffer.from(phone);
    flipped[index]! ^= 0x08;
    await assert.rejects(fields.open(db, 'user:1', 'phone', flipped), EnvelopeError);
  }
  await assert.rejects(fields.seal(db, 'secret:x', 'phone', '1'), /reserved prefix/);

  await db.transaction((tx) => fields.shred(tx, 'user:1'));
  await assert.rejects(fields.open(db, 'user:1', 'phone', phone), keyError('data_key_destroyed', /data key of user:1 is destroyed \(crypto-shredded\)/));
  await assert.rejects(fields.open(db, 'user:1', 'email', email), keyError('data_key_destroyed'));
  assert.equal(await fields.open(db, 'user:2', 'phone', await fields.seal(db, 'user:2', 'phone', 'x')), 'x');
  // A new seal makes a new key; the shredded values stay unreadable.
  await fields.seal(db, 'user:1', 'phone', 'new number');
  await assert.rejects(fields.open(db, 'user:1', 'phone', phone), envelopeError('authentication_failed'));
});

async function seed(db: Awaited<ReturnType<typeof openTestDb>>['db'], keks: Record<string, Buffer>, count: number) {
  const fields = createFieldCipher(keyringOf(keks, 'k1'));
  const sealed: Buffer[] = [];
  for (let index = 0; index < count; index++) sealed.push(await fields.seal(db, `user:${index}`, 'phone', `+91 98450 ${String(index).padStart(5, '0')}`));
  const secrets = createSecretStore(db, keyringOf(keks, 'k1'));
  const signing = await secrets.getOrCreate('token-signing', () => Buffer.from('signing key bytes'));
  return { sealed, signing };
}

test('after rotation everything decrypts with a keyring that no longer has the old KEK, and the audit log has counts only', async (t) => {
  const { db } = await openTestDb(t);
  const keks = randomKeks('k1', 'k2');
  const { sealed } = await seed(db, keks, 7);
  const progress: RotationProgress[] = [];
  const result = await rotateKeys({ db, keyring: keyringOf(keks, 'k2', 'k1'), batchSize: 3, onProgress: (p) => void progress.push(p), actor: 'test' });
  assert.deepEqual(result, { kekId: 'k2', rewrapped: 8, alreadyCurrent: 0, batches: 3 });
  assert.deepEqual(progress.map((p) => [p.rewrapped, p.total]), [[3, 8], [6, 8], [8, 8]]);
  assert.deepEqual([...(await countDataKeysByKek(db))], [['k2', 8]]);

  const onlyNew = keyringOf(keks, 'k2');
  const fields = createFieldCipher(onlyNew);
  for (const [index, value] of sealed.entries()) assert.equal(await fields.open(db, `user:${index}`, 'phone', value), `+91 98450 ${String(index).padStart(5, '0')}`);
  assert.deepEqual(await createSecretStore(db, onlyNew).getOrCreate('token-signing', () => Buffer.from('other')), Buffer.from('signing key bytes'));
  await assert.rejects(createFieldCipher(keyringOf(keks, 'k1')).open(db, 'user:0', 'phone', sealed[0]!), keyError('kek_missing', /"k2" is not in memory/));

  const { rows } = await db.query<{ action: string; actor: string; after: unknown }>(`select action, actor, after from audit_log where action = 'keys.rotate' order by id`);
  assert.deepEqual(rows.map((row) => [row.actor, (row.after as { phase: string }).phase]), [['test', 'start'], ['test', 'complete']]);
  assert.deepEqual((rows[0]!.after as { pendingByKek: unknown }).pendingByKek, { k1: 8 });
  assert.deepEqual((rows[1]!.after as { rewrapped: number }).rewrapped, 8);
  const text = JSON.stringify(rows);
  for (const kek of Object.values(keks)) assert.ok(!text.includes(kek.toString('base64')) && !text.includes(kek.toString('hex')));
});

test('a rotation interrupted after its first batch keeps that batch, and a rerun finishes the rest', async (t) => {
  const { db } = await openTestDb(t);
  const keks = randomKeks('k1', 'k2');
  const { sealed } = await seed(db, keks, 9);
  const both = keyringOf(keks, 'k2', 'k1');
  await assert.rejects(
    rotateKeys({
      db,
      keyring: both,
      batchSize: 4,
      onProgress: () => {
        throw new Error('interrupted');
      },
    }),
    /interrupted/,
  );
  assert.deepEqual(Object.fromEntries(await countDataKeysByKek(db)), { k1: 6, k2: 4 });
  // Values stay readable in between, with both keys.
  assert.equal(await createFieldCipher(both).open(db, 'user:8', 'phone', sealed[8]!), '+91 98450 00008');

  const result = await rotateKeys({ db, keyring: both, batchSize: 4 });
  assert.deepEqual(result, { kekId: 'k2', rewrapped: 6, alreadyCurrent: 4, batches: 2 });
  assert.deepEqual(Object.fromEntries(await countDataKeysByKek(db)), { k2: 10 });
  const fields = createFieldCipher(keyringOf(keks, 'k2'));
  for (const [index, value] of sealed.entries()) assert.equal(await fields.open(db, `user:${index}`, 'phone', value), `+91 98450 ${String(index).padStart(5, '0')}`);
  // Nothing left: a third run re-wraps nothing.
  assert.equal((await rotateKeys({ db, keyring: both })).rewrapped, 0);
  await assert.rejects(rotateKeys({ db, keyring: both, newKekId: 'k9' }), keyError('kek_missing', /"k9"/));
});

test('two hub processes racing getOrCreate on a secret both end with the same value', async (t) => {
  const { database, db } = await openTestDb(t);
  // Postgres: a second connection pool, like a second hub; PGlite has one connection per data directory.
  const other = database.backend === 'postgres' ? await database.open() : db;
  if (other !== db) t.after(() => other.close());
  const keyring = keyringOf(randomKeks('k1'), 'k1');
  const stores = [createSecretStore(db, keyring), createSecretStore(other, keyring)];
  let arrived = 0;
  let release!: () => void;
  const bothCreating = new Promise<void>((resolve) => (release = resolve));
  // Each create waits until both have found the secret missing, so both really race to insert it.
  const create = (value: string) => async () => {
    if (++arrived === 2) release();
    await bothCreating;
    return Buffer.from(value);
  };
  const [a, b] = await Promise.all([stores[0]!.getOrCreate('ca-key', create('value A')), stores[1]!.getOrCreate('ca-key', create('value B'))]);
  assert.deepEqual(a, b);
  assert.ok(['value A', 'value B'].includes(a.toString()));
  assert.deepEqual(await stores[1]!.getOrCreate('ca-key', () => Buffer.from('late')), a);
  assert.equal((await db.query(`select * from data_keys where owner = 'secret:ca-key'`)).rows.length, 1);

  await stores[0]!.put('ca-key', Buffer.from('re-keyed'));
  assert.equal((await stores[1]!.getOrCreate('ca-key', () => Buffer.from('x'))).toString(), 're-keyed');
});

test('a template envelope for an agent is wrapped for the agent\'s RSA key, and a file keyring picks up keys added after it loaded', async (t) => {
  const { db } = await openTestDb(t);
  const dir = tempDir(t, 'keys');
  const path = join(dir, 'keys.json');
  const keks = randomKeks('k1', 'k2');
  writeKeyFile(path, { active: 'k1', keys: { k1: keks.k1!.toString('base64') } });
  const hub = loadKeyring({ keyFile: path }).keyring;
  const context = { subject: '2025CS001', finger: 1, templateId: 't-1', format: 'iso19794-2' };
  const sealed = await sealOwned(db, hub, 'template:t-1', context, Buffer.from('FMR\0 20\0minutiae'));

  const agent = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const envelope = await envelopeForRecipient(db, hub, 'template:t-1', sealed, agent.publicKey, context);
  assert.equal(envelope.key.kind, 'rsa-oaep-sha256');
  assert.equal(openEnvelope(JSON.parse(JSON.stringify(envelope)), context, recipientUnwrapper(agent.privateKey, context)).toString(), 'FMR\0 20\0minutiae');
  await assert.rejects(envelopeForRecipient(db, hub, 'template:t-1', sealed, agent.publicKey, { ...context, finger: 2 }), envelopeError('authentication_failed'));

  // `keys rotate` in another process adds k2 and re-wraps; this hub's keyring reloads the file when it meets k2.
  writeKeyFile(path, { active: 'k2', keys: { k1: keks.k1!.toString('base64'), k2: keks.k2!.toString('base64') } });
  await rotateKeys({ db, keyring: loadKeyring({ keyFile: path }).keyring });
  assert.ok((await envelopeForRecipient(db, hub, 'template:t-1', sealed, agent.publicKey, context)).ct === envelope.ct);
  assert.equal(hub.activeId, 'k2');
});
