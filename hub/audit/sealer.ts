import type { Logger } from 'pino';
import type { Db, Transaction } from '../db/db.js';
import { AUDIT_ROW_COLUMNS, GENESIS_HASH, canonicalAuditEntry, chainHash, type AuditRow } from './canonical.js';

/** The advisory lock a seal pass holds: one sealer at a time across every hub on one database. */
export const AUDIT_SEAL_LOCK_KEY = 4_370_362;

export interface AuditSealerOptions {
  db: Db;
  logger: Logger;
  /** Pause between seal passes, in ms (default 500). */
  intervalMs?: number;
  /** Most rows one transaction seals (default 1000); a pass keeps going while batches come back full. */
  batchSize?: number;
}

export interface AuditSealer {
  /** Seals every entry committed so far (unless another hub is sealing right now); resolves with the rows this call sealed. */
  sealNow(): Promise<number>;
  /** Stops the timer and waits for a pass in flight. Entries left unsealed are sealed by the next sealer to run. */
  stop(): Promise<void>;
}

/**
 * Gives committed audit entries their place in the hash chain: a gapless seq
 * in the order the sealer sees them committed, prev_hash and hash. Writers
 * only insert, so they never wait on the chain; this is the chain's one
 * writer, serialised across processes by an advisory lock.
 */
export function startAuditSealer(options: AuditSealerOptions): AuditSealer {
  const { db, intervalMs = 500, batchSize = 1000 } = options;
  const log = options.logger.child({ ns: 'hub:audit' });
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  // Passes in this process run one after another, whoever asks for them.
  let running: Promise<unknown> = Promise.resolve();

  const sealNow = (): Promise<number> => {
    const pass = running.then(() => sealAll(db, batchSize, log));
    running = pass.catch(() => {});
    return pass;
  };

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      sealNow()
        .catch((error: unknown) => log.warn({ err: error }, 'audit seal pass failed; retrying'))
        .finally(schedule);
    }, intervalMs);
    timer.unref();
  };
  schedule();

  return {
    sealNow,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}

async function sealAll(db: Db, batchSize: number, log: Logger): Promise<number> {
  let total = 0;
  for (;;) {
    const sealed = await db.transaction((tx) => sealBatch(tx, batchSize));
    if (sealed === null) {
      log.debug('another sealer holds the audit seal lock; skipping this pass');
      break;
    }
    total += sealed.count;
    if (sealed.count > 0) log.debug({ rows: sealed.count, headSeq: sealed.headSeq }, 'sealed audit entries');
    if (sealed.count < batchSize) break;
  }
  return total;
}

/** One transaction: seals up to `limit` unsealed rows after the chain head. Null when another sealer holds the lock. */
async function sealBatch(tx: Transaction, limit: number): Promise<{ count: number; headSeq: string } | null> {
  // The head must be read after the lock is taken, with a fresh snapshot, so that
  // a sealer that just committed is seen; READ COMMITTED gives every statement one.
  await tx.query('set transaction isolation level read committed');
  const lock = await tx.query<{ locked: boolean }>('select pg_try_advisory_xact_lock($1) as locked', [AUDIT_SEAL_LOCK_KEY]);
  if (lock.rows[0]?.locked !== true) return null;

  // The head is the last sealed entry or, when retention purged every one, the purge's anchor.
  const head = await tx.query<{ seq: string; hash: string }>(
    `select seq, hash from (
       (select seq::text as seq, encode(hash, 'hex') as hash, seq as n from audit_log where seq is not null order by audit_log.seq desc limit 1)
       union all
       (select p.up_to_seq::text, encode(p.anchor_hash, 'hex'), p.up_to_seq from audit_purges p order by p.up_to_seq desc limit 1)
     ) as heads order by n desc limit 1`,
  );
  let seq = BigInt(head.rows[0]?.seq ?? 0);
  let prev: Buffer = head.rows[0] ? Buffer.from(head.rows[0].hash, 'hex') : GENESIS_HASH;

  const { rows } = await tx.query<AuditRow>(`select ${AUDIT_ROW_COLUMNS} from audit_log where seq is null order by audit_log.id limit $1`, [limit]);
  if (rows.length === 0) return { count: 0, headSeq: seq.toString() };

  const seals = rows.map((row) => {
    seq += 1n;
    const hash = chainHash(prev, canonicalAuditEntry(row, seq.toString()));
    const seal = { id: row.id, seq: seq.toString(), prev_hash: prev.toString('hex'), hash: hash.toString('hex') };
    prev = hash;
    return seal;
  });
  const updated = await tx.query(
    `update audit_log a
        set seq = v.seq, prev_hash = decode(v.prev_hash, 'hex'), hash = decode(v.hash, 'hex')
       from json_to_recordset($1::json) as v(id bigint, seq bigint, prev_hash text, hash text)
      where a.id = v.id and a.seq is null`,
    [JSON.stringify(seals)],
  );
  if (updated.rowCount !== seals.length) throw new Error(`audit seal pass sealed ${updated.rowCount} of ${seals.length} rows; rolled back`);
  return { count: seals.length, headSeq: seq.toString() };
}
