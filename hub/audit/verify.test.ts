import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import type { Db } from '../db/db.js';
import { createTestDatabase } from '../../test/support/database.js';
import { appendAudit } from './append.js';
import { AUDIT_ROW_COLUMNS, canonicalAuditEntry, chainHash, type AuditRow } from './canonical.js';
import { startAuditSealer } from './sealer.js';
import { verifyAuditChain, type AuditVerifyProgress } from './verify.js';

const logger = pino({ level: 'silent' });

/** A database with `count` sealed entries (seq = 1..count) and `unsealed` more. */
async function sealedLog(t: TestContext, count: number, unsealed = 0): Promise<Db> {
  const database = await createTestDatabase();
  t.after(() => database.drop());
  const db = await database.open();
  t.after(() => db.close());
  const append = (from: number, to: number) =>
    db.transaction(async (tx) => {
      for (let index = from; index < to; index++) {
        await appendAudit(tx, { actor: `user:${index % 3}`, source: 'http', action: index % 2 ? 'user.role.change' : 'auth.login', target: `user:${index}`, after: { index } });
      }
    });
  await append(0, count);
  const sealer = startAuditSealer({ db, logger, intervalMs: 3_600_000 });
  assert.equal(await sealer.sealNow(), count);
  await sealer.stop();
  await append(count, count + unsealed);
  return db;
}

/** Runs `sql` as the table's owner with the append-only trigger off, as an attacker with owner rights could. */
async function tamper(db: Db, sql: string): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query('alter table audit_log disable trigger audit_log_append_only');
    const result = await tx.query(sql);
    assert.equal(result.rowCount, 1, sql);
    await tx.query('alter table audit_log enable trigger audit_log_append_only');
  });
}

async function idOf(db: Db, seq: number): Promise<number> {
  const { rows } = await db.query<{ id: number }>('select id from audit_log where seq = $1', [seq]);
  return Number(rows[0]!.id);
}

test('an intact log verifies, counting sealed and unsealed entries and reporting progress per page', async (t) => {
  const db = await sealedLog(t, 25, 4);
  const progress: AuditVerifyProgress[] = [];
  const result = await verifyAuditChain(db, { pageSize: 10, onProgress: (p) => progress.push(p) });
  assert.equal(result.ok, true);
  assert.equal(result.sealed, 25);
  assert.equal(result.unsealed, 4);
  assert.equal(result.broken, 0);
  assert.equal(result.firstBad, undefined);
  assert.equal(result.head?.seq, 25);
  assert.match(result.head!.hash, /^[0-9a-f]{64}$/);
  assert.deepEqual(progress.map((p) => p.checked), [10, 20, 25]);
  assert.ok(progress.every((p) => p.total === 25));
});

test('an empty log verifies', async (t) => {
  const db = await sealedLog(t, 0);
  assert.deepEqual(await verifyAuditChain(db), { ok: true, sealed: 0, unsealed: 0, checkpoints: 0, broken: 0 });
});

test('a direct edit of one entry\'s field is named by its seq', async (t) => {
  const db = await sealedLog(t, 12);
  for (const [seq, sql] of [
    [5, `update audit_log set actor = 'user:mallory' where seq = 5`],
    [8, `update audit_log set after = '{"index": 70}' where seq = 8`],
    [9, `update audit_log set at = at + interval '1 microsecond' where seq = 9`],
  ] as const) {
    const fresh = seq === 5 ? db : await sealedLog(t, 12);
    await tamper(fresh, sql);
    const result = await verifyAuditChain(fresh, { pageSize: 4 });
    assert.equal(result.ok, false, sql);
    assert.deepEqual(result.firstBad, {
      seq,
      id: await idOf(fresh, seq),
      action: seq % 2 ? 'auth.login' : 'user.role.change',
      reason: 'hash_mismatch',
      detail: 'its stored hash does not match its content: the entry or its hash was changed',
    }, sql);
    assert.equal(result.broken, 1, sql);
    assert.equal(result.sealed, 12);
  }
});

test('a deleted middle entry is reported as a gap at the entry after it', async (t) => {
  const db = await sealedLog(t, 10);
  await tamper(db, 'delete from audit_log where seq = 4');
  const result = await verifyAuditChain(db, { pageSize: 3 });
  assert.equal(result.ok, false);
  assert.equal(result.firstBad?.seq, 5);
  assert.equal(result.firstBad?.reason, 'gap');
  assert.equal(result.firstBad?.detail, 'seq 4 is missing before this entry');
  assert.equal(result.broken, 1);
  assert.equal(result.sealed, 9);
});

test('a deleted first entry is a gap at seq 2', async (t) => {
  const db = await sealedLog(t, 3);
  await tamper(db, 'delete from audit_log where seq = 1');
  const result = await verifyAuditChain(db);
  assert.equal(result.firstBad?.seq, 2);
  assert.equal(result.firstBad?.reason, 'gap');
});

test('an edited hash is reported at its entry, and the next entry no longer chains to it', async (t) => {
  const db = await sealedLog(t, 10);
  await tamper(db, `update audit_log set hash = decode(repeat('ab', 32), 'hex') where seq = 6`);
  const result = await verifyAuditChain(db);
  assert.equal(result.firstBad?.seq, 6);
  assert.equal(result.firstBad?.reason, 'hash_mismatch');
  assert.equal(result.broken, 2);
});

test('an entry rewritten with a recomputed hash breaks at the next entry\'s prev_hash', async (t) => {
  const db = await sealedLog(t, 10);
  // The attacker edits seq 6 and reseals it consistently, but not the rest of the chain.
  const row = (await db.query<AuditRow>(`select ${AUDIT_ROW_COLUMNS} from audit_log where seq = 6`)).rows[0]!;
  const forged = chainHash(Buffer.from(row.prev_hash!, 'hex'), canonicalAuditEntry({ ...row, actor: 'user:mallory' }));
  await tamper(db, `update audit_log set actor = 'user:mallory', hash = decode('${forged.toString('hex')}', 'hex') where seq = 6`);
  const result = await verifyAuditChain(db);
  assert.equal(result.firstBad?.seq, 7);
  assert.equal(result.firstBad?.reason, 'prev_hash_mismatch');
  assert.equal(result.firstBad?.detail, 'its prev_hash is not the hash of seq 6');
  assert.equal(result.broken, 1);
});

test('seq 1 must chain to 32 zero bytes', async (t) => {
  const db = await sealedLog(t, 2);
  await tamper(db, `update audit_log set prev_hash = decode(repeat('01', 32), 'hex') where seq = 1`);
  const result = await verifyAuditChain(db);
  assert.equal(result.firstBad?.seq, 1);
  assert.equal(result.firstBad?.reason, 'prev_hash_mismatch');
  assert.equal(result.firstBad?.detail, 'its prev_hash is not 32 zero bytes, as seq 1 must have');
});

test('the trigger refuses DELETE, TRUNCATE, content updates and re-sealing, with a clear error', async (t) => {
  const db = await sealedLog(t, 3, 1);
  const refused = async (sql: string, message: RegExp) => {
    await assert.rejects(db.query(sql), (error: Error & { code?: string }) => {
      assert.match(error.message, message, sql);
      assert.equal(error.code, '42501', sql);
      return true;
    });
  };
  await refused(`update audit_log set actor = 'user:mallory' where seq = 2`, /audit_log is append-only: entry \d+ may not be updated/);
  await refused(`update audit_log set reason = 'oops' where seq is null`, /append-only: entry \d+ may not be updated/);
  await refused(`update audit_log set seq = 9 where seq = 3`, /append-only: entry \d+ may not be updated/);
  await refused(`update audit_log set hash = prev_hash where seq = 3`, /append-only/);
  await refused(`delete from audit_log where seq = 2`, /audit_log is append-only: entry \d+ may not be deleted/);
  await refused(`delete from audit_log where seq is null`, /may not be deleted/);
  await refused(`truncate audit_log`, /audit_log is append-only: TRUNCATE is not allowed/);
  await refused(
    `insert into audit_log (actor, action, source, seq, prev_hash, hash) values ('x', 'y', 'cli', 99, decode(repeat('00', 32), 'hex'), decode(repeat('00', 32), 'hex'))`,
    /a new entry must arrive unsealed/,
  );
  const result = await verifyAuditChain(db);
  assert.equal(result.ok, true);
  assert.equal(result.sealed, 3);
  assert.equal(result.unsealed, 1);
});
