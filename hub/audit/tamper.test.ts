import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readdirSync } from 'node:fs';
import fc from 'fast-check';
import pino from 'pino';
import type { Transaction } from '../db/db.js';
import { createTestDatabase } from '../../test/support/database.js';
import { tempDir } from '../../test/support/tempDir.js';
import { AUDIT_ROW_COLUMNS, canonicalAuditEntry, chainHash, type AuditRow } from './canonical.js';
import { loadCheckpointPublicKey, loadOrCreateCheckpointKey, readCheckpoints, writeCheckpoint } from './checkpoint.js';
import { startAuditSealer } from './sealer.js';
import { verifyAuditChain, type AuditBreakReason } from './verify.js';

/**
 * The acceptance test for tamper evidence: an attacker with a direct SQL
 * connection and the table owner's rights (the append-only trigger off)
 * edits, inserts, deletes, reorders and truncates entries of a sealed log,
 * and verification names the first entry that no longer holds. 10,000
 * entries in `npm test`, 100,000 in `npm run soak`.
 */
const SOAK = process.env.CAMPUSHUB_SOAK === '1';
const LOG_SIZE = SOAK ? 100_000 : 10_000;
const RUNS = SOAK ? 20 : 16;
/** Seqs parked out of the way while an attack renumbers entries. */
const PARK = 1_000_000_000_000;

type Expected = { seq: number; reason: AuditBreakReason };

interface Attack {
  name: string;
  /** Tampers inside the attacker's transaction; returns where verify must report the first break. */
  run(tx: Transaction, size: number): Promise<Expected>;
}

async function rowAt(tx: Transaction, seq: number): Promise<AuditRow> {
  const { rows } = await tx.query<AuditRow>(`select ${AUDIT_ROW_COLUMNS} from audit_log where seq = $1`, [seq]);
  return rows[0]!;
}

/** Recomputes the stored hash of `seq` from its content and prev_hash, as an attacker covering tracks would. */
async function reseal(tx: Transaction, seq: number, prevHash?: string): Promise<string> {
  const row = await rowAt(tx, seq);
  const prev = prevHash ?? row.prev_hash!;
  const hash = chainHash(Buffer.from(prev, 'hex'), canonicalAuditEntry(row)).toString('hex');
  await tx.query(`update audit_log set prev_hash = decode($2, 'hex'), hash = decode($3, 'hex') where seq = $1`, [seq, prev, hash]);
  return hash;
}

/** Moves every entry from seq `from` on by `by` (±1), through a parking range so that seq stays unique. */
async function shift(tx: Transaction, from: number, by: number): Promise<void> {
  await tx.query('update audit_log set seq = seq + $2 where seq >= $1', [from, PARK]);
  await tx.query('update audit_log set seq = seq - $1 + $2 where seq >= $1', [PARK, by]);
}

const EDITS: Record<string, string> = {
  actor: `actor = actor || 'x'`,
  action: `action = 'user.role.change'`,
  target: `target = coalesce(target, '') || '!'`,
  after: `after = '{"index": -1}'`,
  reason: `reason = coalesce(reason, '') || 'covered up'`,
  at: `at = at - interval '1 microsecond'`,
  outcome: `outcome = case when outcome = 'success' then 'failure' else 'success' end`,
  ip: `ip = '10.6.6.6'`,
};

const seqIn = (size: number) => fc.integer({ min: 1, max: size });

function attacks(size: number): fc.Arbitrary<Attack> {
  return fc.oneof(
    fc.record({ seq: seqIn(size), field: fc.constantFrom(...Object.keys(EDITS)) }).map(({ seq, field }) => ({
      name: `edit ${field} of seq ${seq}`,
      async run(tx: Transaction) {
        await tx.query(`update audit_log set ${EDITS[field]} where seq = $1`, [seq]);
        return { seq, reason: 'hash_mismatch' as const };
      },
    })),
    seqIn(size).map((seq) => ({
      name: `edit seq ${seq} and reseal it`,
      async run(tx: Transaction, n: number) {
        await tx.query(`update audit_log set actor = 'user:mallory' where seq = $1`, [seq]);
        await reseal(tx, seq);
        // Only the checkpoint knows the head's hash.
        return seq === n ? { seq, reason: 'checkpoint_mismatch' as const } : { seq: seq + 1, reason: 'prev_hash_mismatch' as const };
      },
    })),
    // An attacker who recomputes every hash after the edit: only the checkpoint can tell (near the head, to keep each run short).
    fc.integer({ min: Math.max(1, size - 50), max: size }).map((seq) => ({
      name: `edit seq ${seq} and rewrite the chain after it`,
      async run(tx: Transaction, n: number) {
        await tx.query(`update audit_log set target = 'user:nobody' where seq = $1`, [seq]);
        let prev = await reseal(tx, seq);
        for (let next = seq + 1; next <= n; next++) prev = await reseal(tx, next, prev);
        return { seq: n, reason: 'checkpoint_mismatch' as const };
      },
    })),
    seqIn(size).map((seq) => ({
      name: `insert a forged entry at seq ${seq}`,
      async run(tx: Transaction) {
        const prev = seq === 1 ? '00'.repeat(32) : (await rowAt(tx, seq - 1)).hash!;
        await shift(tx, seq, 1);
        await tx.query(
          `insert into audit_log (actor, action, target, source, seq, prev_hash, hash)
           values ('user:mallory', 'user.role.change', 'user:mallory', 'http', $1, decode($2, 'hex'), decode($2, 'hex'))`,
          [seq, prev],
        );
        await reseal(tx, seq);
        return { seq: seq + 1, reason: 'prev_hash_mismatch' as const };
      },
    })),
    seqIn(size).map((seq) => ({
      name: `delete seq ${seq}`,
      async run(tx: Transaction, n: number) {
        await tx.query('delete from audit_log where seq = $1', [seq]);
        return seq === n ? { seq, reason: 'truncated' as const } : { seq: seq + 1, reason: 'gap' as const };
      },
    })),
    seqIn(size).map((seq) => ({
      name: `delete seq ${seq} and renumber the rest`,
      async run(tx: Transaction, n: number) {
        await tx.query('delete from audit_log where seq = $1', [seq]);
        await shift(tx, seq + 1, -1);
        return seq === n ? { seq, reason: 'truncated' as const } : { seq, reason: 'prev_hash_mismatch' as const };
      },
    })),
    fc
      .tuple(seqIn(size), seqIn(size))
      .filter(([a, b]) => a !== b)
      .map(([a, b]) => {
        const [first, second] = a < b ? [a, b] : [b, a];
        return {
          name: `swap seqs ${first} and ${second}`,
          async run(tx: Transaction) {
            await tx.query('update audit_log set seq = $2 where seq = $1', [first, PARK]);
            await tx.query('update audit_log set seq = $2 where seq = $1', [second, first]);
            await tx.query('update audit_log set seq = $2 where seq = $1', [PARK, second]);
            return { seq: first, reason: 'prev_hash_mismatch' as const };
          },
        };
      }),
    seqIn(size).map((seq) => ({
      name: `truncate the tail from seq ${seq}`,
      async run(tx: Transaction) {
        await tx.query('delete from audit_log where seq >= $1', [seq]);
        return { seq, reason: 'truncated' as const };
      },
    })),
  );
}

class Restore extends Error {}

test(`random tampering with a ${LOG_SIZE}-entry log is reported at the first bad entry, truncation against a signed checkpoint`, async (t) => {
  const database = await createTestDatabase();
  t.after(() => database.drop());
  const db = await database.open();
  t.after(() => db.close());
  await db.query(
    `insert into audit_log (actor, action, target, after, reason, source, request_id, ip, outcome)
     select 'user:' || (i % 7), case when i % 3 = 0 then 'auth.login' else 'records.mark' end, 'session:' || i,
            jsonb_build_object('index', i, 'status', 'present'), case when i % 5 = 0 then 'late bus' end,
            'http', 'req-' || i, '10.0.0.' || (i % 250), case when i % 11 = 0 then 'failure' else 'success' end
       from generate_series(1, $1::int) as i`,
    [LOG_SIZE],
  );
  const sealer = startAuditSealer({ db, logger: pino({ level: 'silent' }), intervalMs: 3_600_000, batchSize: 5000 });
  assert.equal(await sealer.sealNow(), LOG_SIZE);
  await sealer.stop();

  const dir = tempDir(t, 'audit-checkpoints');
  const key = loadOrCreateCheckpointKey(`${tempDir(t, 'audit-key')}/checkpoint-key.pem`);
  assert.equal((await writeCheckpoint(db, dir, key, new Date('2026-11-25T10:00:00Z')))?.seq, LOG_SIZE);
  const { checkpoints, rejected } = readCheckpoints(dir, loadCheckpointPublicKey(`${dir}/checkpoint-key.pub.pem`));
  assert.deepEqual(rejected, []);
  assert.equal(checkpoints.length, 1);
  assert.equal((await verifyAuditChain(db, { checkpoints, pageSize: 5000 })).ok, true);

  await fc.assert(
    fc.asyncProperty(attacks(LOG_SIZE), async (attack) => {
      // The attacker's transaction is rolled back after each check, so every run starts from the intact log.
      await db
        .transaction(async (tx) => {
          await tx.query('alter table audit_log disable trigger audit_log_append_only');
          const expected = await attack.run(tx, LOG_SIZE);
          const result = await verifyAuditChain(tx, { checkpoints, pageSize: 5000 });
          assert.equal(result.ok, false, attack.name);
          assert.deepEqual({ seq: result.firstBad?.seq, reason: result.firstBad?.reason }, expected, attack.name);
          throw new Restore();
        })
        .catch((error: unknown) => {
          if (!(error instanceof Restore)) throw error;
        });
    }),
    { numRuns: RUNS },
  );
  assert.equal((await verifyAuditChain(db, { checkpoints })).ok, true, 'every attack was rolled back');
});

test('without a checkpoint a truncated tail goes unnoticed; with one it is named, and a forged checkpoint is rejected', async (t) => {
  const database = await createTestDatabase();
  t.after(() => database.drop());
  const db = await database.open();
  t.after(() => db.close());
  await db.query(`insert into audit_log (actor, action, source) select 'user:a', 'auth.login', 'http' from generate_series(1, 20)`);
  const sealer = startAuditSealer({ db, logger: pino({ level: 'silent' }), intervalMs: 3_600_000 });
  await sealer.sealNow();
  await sealer.stop();
  const dir = tempDir(t, 'audit-checkpoints');
  const key = loadOrCreateCheckpointKey(`${tempDir(t, 'audit-key')}/key.pem`);
  await writeCheckpoint(db, dir, key, new Date('2026-11-25T10:00:00Z'));
  assert.equal(await writeCheckpoint(db, dir, key, new Date('2026-11-25T10:15:00Z')), null, 'an unchanged head is not checkpointed twice');

  await db.transaction(async (tx) => {
    await tx.query('alter table audit_log disable trigger audit_log_append_only');
    await tx.query('delete from audit_log where seq > 15');
    await tx.query('alter table audit_log enable trigger audit_log_append_only');
  });
  assert.equal((await verifyAuditChain(db)).ok, true, 'the chain alone cannot see a cut tail');
  const publicKey = loadCheckpointPublicKey(`${dir}/checkpoint-key.pub.pem`);
  const result = await verifyAuditChain(db, { checkpoints: readCheckpoints(dir, publicKey).checkpoints });
  assert.equal(result.ok, false);
  assert.deepEqual(result.firstBad, {
    seq: 16,
    id: null,
    action: null,
    reason: 'truncated',
    detail: 'seqs 16 to 20 are gone from the tail, though the checkpoint of 2026-11-25T10:00:00.000Z covers them',
  });

  // A checkpoint re-signed with another key (to match the cut log) does not count.
  const forger = loadOrCreateCheckpointKey(`${tempDir(t, 'forger')}/key.pem`);
  const forgedDir = tempDir(t, 'forged');
  await writeCheckpoint(db, forgedDir, forger, new Date('2026-11-25T10:30:00Z'));
  for (const name of readdirSync(forgedDir).filter((file) => file.startsWith('checkpoint-0'))) copyFileSync(`${forgedDir}/${name}`, `${dir}/${name}`);
  const reading = readCheckpoints(dir, publicKey);
  assert.deepEqual(reading.rejected, ['checkpoint-00000000000000000015.json']);
  assert.equal(reading.checkpoints.length, 1);
});
