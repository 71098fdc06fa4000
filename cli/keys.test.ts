import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { countDataKeysByKek, createFieldCipher, createSecretStore, keyringFromFile, readKeyFile, writeKeyFile } from '../hub/keys/index.js';
import { createTestDatabase } from '../test/support/database.js';
import { keyringOf, randomKeks } from '../test/support/keys.js';
import { spawnCampushub } from '../test/support/processes.js';
import { tempDir } from '../test/support/tempDir.js';

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `campushub <args>` to its end. */
async function campushub(args: string[]): Promise<Finished> {
  const run = spawnCampushub(args);
  let stdout = '';
  let stderr = '';
  run.child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  run.child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(run.child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

const phone = (index: number) => `+91 98450 ${String(index).padStart(5, '0')}`;

test('keys rotate resumes a pending re-wrap, then adds a new KEK with a progress bar; keys retire refuses keys in use', { timeout: 120_000 }, async (t) => {
  const database = await createTestDatabase();
  t.after(() => database.drop());
  const keyFile = join(tempDir(t, 'keys-cli'), 'keys.json');
  const keks = randomKeks('k0', 'k1');
  writeKeyFile(keyFile, { active: 'k1', keys: { k0: keks.k0!.toString('base64'), k1: keks.k1!.toString('base64') } });

  // 3 subjects under the old k0 (as if a hub still ran with it), 4 under the active k1, and a hub secret.
  const db = await database.open();
  const sealed: Buffer[] = [];
  for (let index = 0; index < 7; index++) {
    const fields = createFieldCipher(keyringOf(keks, index < 3 ? 'k0' : 'k1', 'k0', 'k1'));
    sealed.push(await fields.seal(db, `user:${index}`, 'phone', phone(index)));
  }
  await createSecretStore(db, keyringOf(keks, 'k1', 'k0')).getOrCreate('token-signing', () => Buffer.from('signing key'));
  await db.close();

  const where = database.options.databaseUrl ? ['--database-url', database.options.databaseUrl] : ['--data-dir', database.options.dataDir!];
  const keys = (...args: string[]) => campushub(['keys', ...args, ...where, '--key-file', keyFile]);

  const active = await keys('retire', 'k1');
  assert.equal(active.code, 1, active.stderr);
  assert.match(active.stderr, /"k1" is the active KEK; run `campushub keys rotate` first/);
  const inUse = await keys('retire', 'k0');
  assert.equal(inUse.code, 1, inUse.stderr);
  assert.match(inUse.stderr, /refusing to retire "k0": 3 data key\(s\) are still wrapped by it/);

  // Data keys are left under k0: rotate finishes that re-wrap instead of adding a key.
  const resumed = await keys('rotate', '--batch-size', '2');
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, /3 data key\(s\) are not under the active KEK "k1" yet; re-wrapping them \(no new key added\)/);
  assert.match(resumed.stderr, /re-wrapping data keys \[####################\] 3\/3 100% \d+\.\ds\n/);
  assert.deepEqual(Object.keys(readKeyFile(keyFile).keys).sort(), ['k0', 'k1']);

  // Nothing left behind: rotate adds k2 and re-wraps all 8, printing plain progress lines (stderr is not a TTY).
  const rotated = await keys('rotate', '--batch-size', '2');
  assert.equal(rotated.code, 0, rotated.stderr);
  assert.match(rotated.stderr, /added KEK "k2" to .*keys\.json and made it active/);
  const lines = rotated.stderr.split('\n').filter((line) => line.startsWith('re-wrapping data keys ['));
  assert.deepEqual(lines.map((line) => line.match(/\] (\d+\/\d+ \d+%)/)?.[1]), ['2/8 25%', '4/8 50%', '6/8 75%', '8/8 100%']);
  assert.match(rotated.stdout, /re-wrapped 8 data key\(s\) under "k2" in 4 batch\(es\)/);
  assert.equal(readKeyFile(keyFile).active, 'k2');
  assert.equal(statSync(keyFile).mode & 0o777, 0o600);

  for (const kid of ['k0', 'k1']) {
    const retired = await keys('retire', kid);
    assert.equal(retired.code, 0, retired.stderr);
    assert.match(retired.stdout, new RegExp(`retired KEK "${kid}"`));
  }
  assert.deepEqual(Object.keys(readKeyFile(keyFile).keys), ['k2']);
  const unknown = await keys('retire', 'k0');
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /there is no key "k0" in .* \(it has k2\)/);

  // Everything opens with a key file that holds only k2.
  const reopened = await database.open();
  t.after(() => reopened.close());
  const keyring = keyringFromFile(keyFile);
  const fields = createFieldCipher(keyring);
  for (const [index, value] of sealed.entries()) assert.equal(await fields.open(reopened, `user:${index}`, 'phone', value), phone(index));
  assert.equal((await createSecretStore(reopened, keyring).getOrCreate('token-signing', () => Buffer.from('x'))).toString(), 'signing key');
  assert.deepEqual([...(await countDataKeysByKek(reopened))], [['k2', 8]]);
  const { rows } = await reopened.query<{ action: string; target: string }>(`select action, target from audit_log where action like 'keys.%' order by id`);
  assert.deepEqual(
    rows.map((row) => `${row.action} ${row.target}`),
    ['keys.rotate kek:k1', 'keys.rotate kek:k1', 'keys.rotate kek:k2', 'keys.rotate kek:k2', 'keys.retire kek:k0', 'keys.retire kek:k1'],
  );
});

test('keys rotate without a key file, and with CAMPUSHUB_KEKS but without --rewrap-only, explains what to do', { timeout: 60_000 }, async (t) => {
  const dataDir = join(tempDir(t, 'keys-none'), 'hub');
  const missing = await campushub(['keys', 'rotate', '--data-dir', dataDir]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no key file: give --key-file .*hub-keys\.json does not exist/);
  const run = spawnCampushub(['keys', 'rotate', '--data-dir', dataDir], { CAMPUSHUB_KEKS: `k1:${randomKeks('k1').k1!.toString('base64')}` });
  let stderr = '';
  run.child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(run.child, 'close')) as [number | null];
  assert.equal(code, 1);
  assert.match(stderr, /put a new key first in CAMPUSHUB_KEKS, restart the hubs, then run `campushub keys rotate --rewrap-only`/);
});
