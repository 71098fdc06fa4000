import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import type { Db } from '../db/db.js';
import { createTestDatabase } from '../../test/support/database.js';
import { appendAudit, type AuditEntry } from './append.js';
import { AUDIT_SEAL_LOCK_KEY, startAuditSealer, type AuditSealer } from './sealer.js';
import { verifyAuditChain } from './verify.js';

const logger = pino({ level: 'silent' });
// Tests drive sealing with sealNow(); the timer never fires within a test.
const NEVER_MS = 3_600_000;

async function openDatabase(t: TestContext) {
  const database = await createTestDatabase();
  t.after(() => database.drop());
  const db = await database.open();
  t.after(() => db.close());
  return { database, db };
}

function sealer(t: TestContext, db: Db, batchSize?: number): AuditSealer {
  const started = startAuditSealer({ db, logger, intervalMs: NEVER_MS, batchSize });
  t.after(() => started.stop());
  return started;
}

function entry(target: string): AuditEntry {
  return { actor: 'user:test', source: 'system', action: 'test.write', target, before: { n: 1 }, after: { n: 2, tags: ['a', 'b'] } };
}

async function append(db: Db, count: number): Promise<void> {
  await db.transaction(async (tx) => {
    for (let index = 0; index < count; index++) await appendAudit(tx, entry(`t:${index}`));
  });
}

class Rollback extends Error {}

test('a busy log: concurrent writers (some rolled back) and competing sealers seal every committed entry exactly once, gapless', async (t) => {
  const { database, db } = await openDatabase(t);
  // On Postgres two sealers on two pools compete for the advisory lock, as two hubs would; PGlite is one process.
  const other = database.backend === 'postgres' ? await database.open() : undefined;
  if (other) t.after(() => other.close());
  const sealers = [sealer(t, db, 64), ...(other ? [sealer(t, other, 64)] : [])];

  const WRITERS = 20;
  const PER_WRITER = 50;
  const committed = new Set<string>();
  const rolledBack = new Set<string>();
  let writersDone = false;
  const writers = Array.from({ length: WRITERS }, async (_, writer) => {
    // Each writer commits its appends in transactions of 1 to 5 entries; every fourth transaction rolls back.
    for (let index = 0, round = 0; index < PER_WRITER; round++) {
      const size = Math.min(1 + ((writer + round) % 5), PER_WRITER - index);
      const targets = Array.from({ length: size }, (_, offset) => `w${writer}:${index + offset}`);
      index += size;
      const rollback = round % 4 === 3;
      try {
        await db.transaction(async (tx) => {
          for (const target of targets) await appendAudit(tx, entry(target));
          if (rollback) throw new Rollback();
        });
        for (const target of targets) committed.add(target);
      } catch (error) {
        if (!(error instanceof Rollback)) throw error;
        for (const target of targets) rolledBack.add(target);
      }
    }
  });
  const sealing = (async () => {
    let sealed = 0;
    while (!writersDone) sealed += (await Promise.all(sealers.map((s) => s.sealNow()))).reduce((a, b) => a + b, 0);
    return sealed;
  })();
  await Promise.all(writers).finally(() => (writersDone = true));
  let sealed = await sealing;
  sealed += (await Promise.all(sealers.map((s) => s.sealNow()))).reduce((a, b) => a + b, 0);
  // A sealer that lost the lock race in the last round leaves nothing: the winner took every committed row.
  sealed += await sealers[0]!.sealNow();

  assert.ok(rolledBack.size > 0);
  const { rows } = await db.query<{ target: string; seq: number | null }>('select target, seq from audit_log order by seq');
  assert.equal(rows.length, committed.size, 'rolled-back entries are absent');
  assert.deepEqual(new Set(rows.map((row) => row.target)), committed);
  assert.deepEqual(
    rows.map((row) => Number(row.seq)),
    Array.from({ length: committed.size }, (_, index) => index + 1),
    'seq is gapless 1..N',
  );
  assert.equal(sealed, committed.size, 'every entry sealed exactly once');
  const result = await verifyAuditChain(db, { pageSize: 97 });
  assert.deepEqual({ ok: result.ok, sealed: result.sealed, unsealed: result.unsealed, broken: result.broken }, { ok: true, sealed: committed.size, unsealed: 0, broken: 0 });
  assert.equal(result.head?.seq, committed.size);
});

test('sealNow batches: a backlog larger than one batch is sealed in one call, continuing the chain from its head', async (t) => {
  const { db } = await openDatabase(t);
  const s = sealer(t, db, 10);
  await append(db, 25);
  assert.equal(await s.sealNow(), 25);
  assert.equal(await s.sealNow(), 0);
  await append(db, 3);
  assert.equal(await s.sealNow(), 3);
  const result = await verifyAuditChain(db, { pageSize: 7 });
  assert.equal(result.ok, true);
  assert.equal(result.sealed, 28);
});

test('an entry that commits after a later one is sealed after it: seq follows commit order, not id', async (t) => {
  const { database, db } = await openDatabase(t);
  if (database.backend !== 'postgres') return t.skip('needs two connections (Postgres)');
  const s = sealer(t, db);
  let releaseEarly!: () => void;
  const held = new Promise<void>((resolve) => (releaseEarly = resolve));
  let appended!: () => void;
  const inserted = new Promise<void>((resolve) => (appended = resolve));
  const early = db.transaction(async (tx) => {
    await appendAudit(tx, entry('early-id'));
    appended();
    await held;
  });
  await inserted;
  await db.transaction((tx) => appendAudit(tx, entry('late-id')));
  assert.equal(await s.sealNow(), 1);
  releaseEarly();
  await early;
  assert.equal(await s.sealNow(), 1);
  const { rows } = await db.query<{ id: number; target: string; seq: number }>('select id, target, seq from audit_log order by seq');
  assert.deepEqual(rows.map((row) => [row.target, Number(row.seq)]), [['late-id', 1], ['early-id', 2]]);
  assert.ok(Number(rows[1]!.id) < Number(rows[0]!.id));
  assert.equal((await verifyAuditChain(db)).ok, true);
});

test('a sealer skips its pass while another process holds the seal lock', async (t) => {
  const { database, db } = await openDatabase(t);
  if (database.backend !== 'postgres') return t.skip('needs two connections (Postgres)');
  const other = await database.open();
  t.after(() => other.close());
  const s = sealer(t, db);
  await append(db, 3);
  await other.transaction(async (tx) => {
    await tx.query('select pg_advisory_xact_lock($1)', [AUDIT_SEAL_LOCK_KEY]);
    assert.equal(await s.sealNow(), 0);
  });
  assert.equal(await s.sealNow(), 3);
});

test('stop() waits for the pass in flight and clears the timer', async (t) => {
  const { db } = await openDatabase(t);
  await append(db, 2);
  const s = startAuditSealer({ db, logger, intervalMs: 1 });
  const pass = s.sealNow();
  await s.stop();
  assert.equal(await pass, 2);
  const { rows } = await db.query<{ n: number }>('select count(*)::int as n from audit_log where seq is null');
  assert.equal(rows[0]!.n, 0);
});
