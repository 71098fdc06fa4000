import type { Queryable } from '../db/db.js';
import { AUDIT_ROW_COLUMNS, GENESIS_HASH, canonicalAuditEntry, chainHash, type AuditRow } from './canonical.js';
import type { AuditCheckpoint } from './checkpoint.js';

/**
 * Why an entry breaks the chain:
 * - `gap`: seqs are missing before this entry (a deleted entry, or a chain that does not start at 1);
 * - `prev_hash_mismatch`: its prev_hash is not the previous entry's hash (an entry before it was replaced or removed);
 * - `hash_mismatch`: its hash is not SHA-256(prev_hash ‖ canonical entry) (its content or its hash was changed);
 * - `malformed`: a value the canonical encoding cannot take (e.g. a stored JSON text it cannot parse);
 * - `checkpoint_mismatch`: its hash is not the one a signed checkpoint recorded for its seq (the chain was rewritten up to here);
 * - `truncated`: entries a signed checkpoint covers are gone from the tail (`id` and `action` are null: there is no entry);
 * - `unrecorded_purge`: the chain starts after a purge anchor that no `audit.purge` entry in the chain records.
 */
export type AuditBreakReason = 'gap' | 'prev_hash_mismatch' | 'hash_mismatch' | 'malformed' | 'checkpoint_mismatch' | 'truncated' | 'unrecorded_purge';

export interface AuditBreak {
  seq: number;
  id: number | null;
  action: string | null;
  reason: AuditBreakReason;
  /** One sentence for people. */
  detail: string;
}

export interface AuditVerifyProgress {
  /** Sealed entries checked so far. */
  checked: number;
  /** Sealed entries when the check started (more may be sealed meanwhile). */
  total: number;
}

export interface AuditVerifyOptions {
  onProgress?: (progress: AuditVerifyProgress) => void;
  /** Entries per query (default 1000). */
  pageSize?: number;
  /** Signed checkpoints (hub/audit/checkpoint.ts): each names a seq whose hash must still be there, which also catches a truncated tail. */
  checkpoints?: AuditCheckpoint[];
}

export interface AuditVerifyResult {
  /** True when every sealed entry chains; unsealed entries do not count against it. */
  ok: boolean;
  /** Sealed entries checked. */
  sealed: number;
  /** Entries not yet sealed when the check started. */
  unsealed: number;
  /** The last entry checked: the head of the chain. */
  head?: { seq: number; hash: string };
  /** Where the chain starts after retention purged older entries: the last purged seq and its hash. */
  anchor?: { seq: number; hash: string };
  /** Checkpoints compared with the chain. */
  checkpoints: number;
  /** The first entry (in seq order) that breaks the chain. */
  firstBad?: AuditBreak;
  /** Entries that break the chain; the check continues past a break from the stored hashes. */
  broken: number;
}

/**
 * Recomputes the hash chain in seq order, a page at a time (keyset on seq), and
 * reports the first entry that does not chain. It reads only: the chain's own
 * consistency is what it proves, so a rewrite of the whole chain, or of its
 * tail, needs an external checkpoint to be caught (docs/security.md).
 */
export async function verifyAuditChain(db: Queryable, options: AuditVerifyOptions = {}): Promise<AuditVerifyResult> {
  const pageSize = options.pageSize ?? 1000;
  const counts = await db.query<{ sealed: string; unsealed: string }>(
    `select count(seq)::text as sealed, (count(*) - count(seq))::text as unsealed from audit_log`,
  );
  const total = Number(counts.rows[0]?.sealed ?? 0);
  const unsealed = Number(counts.rows[0]?.unsealed ?? 0);

  let checked = 0;
  let broken = 0;
  let firstBad: AuditBreak | undefined;
  const report = (problem: AuditBreak) => {
    broken++;
    if (!firstBad || problem.seq < firstBad.seq) firstBad = problem;
  };
  const anchor = await purgeAnchor(db);
  let expectedSeq = anchor ? BigInt(anchor.seq) + 1n : 1n;
  let prevHash: Buffer = anchor ? Buffer.from(anchor.hash, 'hex') : GENESIS_HASH;
  let head: AuditVerifyResult['head'];
  if (anchor && !anchor.recorded) {
    report({ seq: anchor.seq + 1, id: null, action: null, reason: 'unrecorded_purge', detail: `the chain starts after seq ${anchor.seq}, a purge no audit.purge entry records` });
  }
  const checkpoints = [...(options.checkpoints ?? [])].sort((a, b) => a.seq - b.seq);
  const checkpointAt = new Map(checkpoints.map((checkpoint) => [checkpoint.seq, checkpoint]));

  for (let after = '0'; ; ) {
    const { rows } = await db.query<AuditRow>(
      `select ${AUDIT_ROW_COLUMNS} from audit_log where seq > $1::bigint order by audit_log.seq limit $2`,
      [after, pageSize],
    );
    for (const row of rows) {
      const checkpoint = checkpointAt.get(Number(row.seq));
      const problem =
        check(row, expectedSeq, prevHash) ??
        (checkpoint && checkpoint.hash !== row.hash
          ? { reason: 'checkpoint_mismatch' as const, detail: `its hash is not the one the checkpoint of ${checkpoint.at} signed: the chain was rewritten up to here` }
          : undefined);
      if (problem) report({ seq: Number(row.seq), id: Number(row.id), action: row.action, ...problem });
      // Carry on from what is stored, so that one break is reported once rather than at every later entry.
      expectedSeq = BigInt(row.seq!) + 1n;
      prevHash = Buffer.from(row.hash ?? '', 'hex');
      head = { seq: Number(row.seq), hash: row.hash ?? '' };
      checked++;
    }
    options.onProgress?.({ checked, total: Math.max(total, checked) });
    if (rows.length < pageSize) break;
    after = rows.at(-1)!.seq!;
  }

  const last = checkpoints.at(-1);
  const headSeq = head?.seq ?? (anchor ? anchor.seq : 0);
  if (last && last.seq > headSeq) {
    const missing = last.seq === headSeq + 1 ? `seq ${last.seq} is` : `seqs ${headSeq + 1} to ${last.seq} are`;
    report({ seq: headSeq + 1, id: null, action: null, reason: 'truncated', detail: `${missing} gone from the tail, though the checkpoint of ${last.at} covers them` });
  }

  return {
    ok: broken === 0,
    sealed: checked,
    unsealed,
    ...(head ? { head } : {}),
    ...(anchor ? { anchor: { seq: anchor.seq, hash: anchor.hash } } : {}),
    checkpoints: checkpoints.length,
    ...(firstBad ? { firstBad } : {}),
    broken,
  };
}

/** The latest purge's anchor, and whether an `audit.purge` entry in the chain records it. */
async function purgeAnchor(db: Queryable): Promise<{ seq: number; hash: string; recorded: boolean } | undefined> {
  const { rows } = await db.query<{ seq: string; hash: string; recorded: boolean }>(
    `select p.up_to_seq::text as seq, encode(p.anchor_hash, 'hex') as hash,
            exists (select 1 from audit_log a
                     where a.action = 'audit.purge'
                       and a.after->>'upToSeq' = p.up_to_seq::text and a.after->>'anchorHash' = encode(p.anchor_hash, 'hex')) as recorded
       from audit_purges p order by p.up_to_seq desc limit 1`,
  );
  const row = rows[0];
  return row ? { seq: Number(row.seq), hash: row.hash, recorded: row.recorded } : undefined;
}

function check(row: AuditRow, expectedSeq: bigint, prevHash: Buffer): Pick<AuditBreak, 'reason' | 'detail'> | undefined {
  const seq = BigInt(row.seq!);
  if (seq !== expectedSeq) {
    const missing = seq - expectedSeq === 1n ? `seq ${expectedSeq} is` : `seqs ${expectedSeq} to ${seq - 1n} are`;
    return { reason: 'gap', detail: `${missing} missing before this entry` };
  }
  if (row.prev_hash === null || row.hash === null) return { reason: 'malformed', detail: 'the entry has a seq but no prev_hash or hash' };
  const storedPrev = Buffer.from(row.prev_hash, 'hex');
  if (!storedPrev.equals(prevHash)) {
    const expected = seq === 1n ? '32 zero bytes, as seq 1 must have' : `the hash of seq ${seq - 1n}`;
    return { reason: 'prev_hash_mismatch', detail: `its prev_hash is not ${expected}` };
  }
  let canonical: string;
  try {
    canonical = canonicalAuditEntry(row);
  } catch (error) {
    return { reason: 'malformed', detail: (error as Error).message };
  }
  if (!chainHash(storedPrev, canonical).equals(Buffer.from(row.hash, 'hex'))) {
    return { reason: 'hash_mismatch', detail: 'its stored hash does not match its content: the entry or its hash was changed' };
  }
  return undefined;
}
