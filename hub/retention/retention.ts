import { createWriteStream, mkdirSync, readFileSync, readdirSync, renameSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import type { Db, Queryable } from '../db/db.js';
import { AUDIT_ROW_COLUMNS, GENESIS_HASH, canonicalAuditEntry, chainHash, type AuditRow } from '../audit/canonical.js';

const DAY = 86_400_000;

/**
 * How long each kind of data is kept, and why (docs/audit.md, "Retention"). `prune`
 * says what the retention job does when the period is over; `keep` kinds are
 * never removed by it, only listed so that the schedule covers everything.
 * The `retention.days` setting (hub/settings) may lengthen a period; the job
 * never keeps audit entries for less than a year.
 */
export const RETENTION_SCHEDULE = {
  audit_log: {
    days: 7 * 365,
    reason: 'the audit trail backs every record, correction and eligibility decision; 7 years by default, as for financial and academic records, and never under 1 year, the minimum for security logs (sign-ins are audit entries)',
    prune: 'archive, then purge through audit_purge()',
  },
  attendance_events: {
    days: null,
    reason: 'attendance is an academic record: its legal basis is the institution\'s duty to keep the records an eligibility or a degree rests on, for as long as its regulations say; the hub keeps it until an administrator removes a closed batch',
    prune: 'keep',
  },
  attendance_current: { days: null, reason: 'the projection of attendance_events; lives and goes with it', prune: 'keep' },
  events: {
    days: null,
    reason: 'raw taps are the evidence behind tap marks (attendance_events.tap_event_id); kept as long as the marks',
    prune: 'keep',
  },
  unmatched_taps: { days: 400, reason: 'taps that marked nobody matter for disputes within the term and the next; 400 days covers an academic year and its appeals', prune: 'delete' },
  notifications: {
    days: 3 * 365,
    reason: 'the delivery ledger proves when a warning went out; kept while an eligibility decision can be appealed (3 years)',
    prune: 'delete delivered or failed notifications with their deliveries and attempts',
  },
  refresh_tokens: { days: 30, reason: 'security tokens: only while a sign-in can be refreshed, and a month after for investigating misuse', prune: 'delete expired families' },
  settings_versions: { days: null, reason: 'the rules in force at any past moment explain past decisions', prune: 'keep' },
} as const;

export type RetentionKind = keyof typeof RETENTION_SCHEDULE;
/** Security logs are never kept under a year, whatever the setting. */
const MIN_AUDIT_DAYS = 365;

export interface RetentionOptions {
  /** Where archived audit entries go, outside the database. */
  archiveDir: string;
  /** Days per kind, replacing the schedule's (the `retention.days` setting). */
  days?: Partial<Record<RetentionKind, number>>;
  actor?: string;
}

export interface RetentionResult {
  auditPurged: number;
  auditArchive: string | null;
  unmatchedTaps: number;
  notifications: number;
}

/**
 * The retention job: archives and purges expired audit entries (a prefix of
 * the chain, whose archive carries its hashes and whose last hash becomes the
 * chain's anchor), then deletes the expired rows of the kinds whose schedule
 * says so.
 */
export async function runRetention(db: Db, at: Date, options: RetentionOptions): Promise<RetentionResult> {
  const days = (kind: RetentionKind) => options.days?.[kind] ?? (RETENTION_SCHEDULE[kind].days as number);
  const auditCutoff = new Date(at.getTime() - Math.max(MIN_AUDIT_DAYS, days('audit_log')) * DAY);
  const { purged, archive } = await archiveAndPurgeAudit(db, auditCutoff, options.archiveDir, options.actor ?? 'system:retention');

  return db.transaction(async (tx) => {
    const taps = await tx.query('delete from unmatched_taps where created_at < $1', [new Date(at.getTime() - days('unmatched_taps') * DAY)]);
    const notificationCutoff = new Date(at.getTime() - days('notifications') * DAY);
    const expired = `select id from notifications n where n.created_at < $1
                       and not exists (select 1 from notification_deliveries d where d.notification_id = n.id and d.state = 'pending')`;
    await tx.query(`delete from notification_attempts where notification_id in (${expired})`, [notificationCutoff]);
    await tx.query(`delete from notification_deliveries where notification_id in (${expired})`, [notificationCutoff]);
    const notifications = await tx.query(`delete from notifications where id in (${expired})`, [notificationCutoff]);
    // Tokens go with their family (on delete cascade).
    await tx.query('delete from refresh_families where expires_at < $1', [new Date(at.getTime() - days('refresh_tokens') * DAY)]);
    return { auditPurged: purged, auditArchive: archive, unmatchedTaps: taps.rowCount ?? 0, notifications: notifications.rowCount ?? 0 };
  });
}

/** The last seq of the chain's prefix older than `cutoff`, with the anchor it starts from. */
async function expiredPrefix(db: Queryable, cutoff: Date): Promise<{ from: number; upTo: number } | null> {
  const { rows } = await db.query<{ first: string | null; upTo: string | null }>(
    `select (select min(seq) from audit_log)::text as first,
            coalesce((select min(seq) - 1 from audit_log where seq is not null and at >= $1), (select max(seq) from audit_log))::text as "upTo"`,
    [cutoff],
  );
  const first = Number(rows[0]?.first ?? 0);
  const upTo = Number(rows[0]?.upTo ?? 0);
  return first > 0 && upTo >= first ? { from: first, upTo } : null;
}

async function archiveAndPurgeAudit(db: Db, cutoff: Date, archiveDir: string, actor: string): Promise<{ purged: number; archive: string | null }> {
  const range = await expiredPrefix(db, cutoff);
  if (!range) return { purged: 0, archive: null };
  mkdirSync(archiveDir, { recursive: true });
  const name = `audit-${String(range.from).padStart(20, '0')}-${String(range.upTo).padStart(20, '0')}.jsonl`;
  // One JSON line per entry, every column as the chain hashes it: the archive verifies on its own.
  const out = createWriteStream(join(archiveDir, `${name}.partial`), { flags: 'w' });
  for (let after = range.from - 1; after < range.upTo; ) {
    const { rows } = await db.query<AuditRow>(
      `select ${AUDIT_ROW_COLUMNS} from audit_log where seq > $1 and seq <= $2 order by audit_log.seq limit 5000`,
      [after, range.upTo],
    );
    if (rows.length === 0) break;
    for (const row of rows) if (!out.write(`${JSON.stringify(row)}\n`)) await once(out, 'drain');
    after = Number(rows.at(-1)!.seq);
  }
  out.end();
  await once(out, 'finish');
  renameSync(join(archiveDir, `${name}.partial`), join(archiveDir, name));
  const purged = await db.transaction(async (tx) => {
    const { rows } = await tx.query<{ removed: string }>('select audit_purge($1, $2, $3, $4)::text as removed', [range.upTo, actor, 'retention: entries past their retention period', name]);
    return Number(rows[0]!.removed);
  });
  return { purged, archive: name };
}

export interface ArchiveCheck {
  ok: boolean;
  entries: number;
  /** The first problem, for people. */
  problem?: string;
}

/**
 * Checks every archive in `dir` as one chain continued by the database:
 * each file's entries chain to one another, the first file starts at the
 * genesis (or where the previous file ended), and the last hash of the last
 * archive is the anchor the database's chain starts from.
 */
export async function verifyAuditArchives(db: Queryable, dir: string): Promise<ArchiveCheck> {
  const files = readdirSync(dir).filter((name) => /^audit-\d{20}-\d{20}\.jsonl$/.test(name)).sort();
  let prev: Buffer = GENESIS_HASH;
  let expected = 1;
  let entries = 0;
  for (const file of files) {
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n').filter(Boolean)) {
      const row = JSON.parse(line) as AuditRow;
      const where = `${file}, seq ${row.seq}`;
      if (Number(row.seq) !== expected) return { ok: false, entries, problem: `${where}: expected seq ${expected}` };
      if (row.prev_hash !== prev.toString('hex')) return { ok: false, entries, problem: `${where}: prev_hash does not chain` };
      const hash = chainHash(prev, canonicalAuditEntry(row));
      if (hash.toString('hex') !== row.hash) return { ok: false, entries, problem: `${where}: hash does not match its content` };
      prev = hash;
      expected++;
      entries++;
    }
  }
  const { rows } = await db.query<{ seq: string; hash: string }>(`select up_to_seq::text as seq, encode(anchor_hash, 'hex') as hash from audit_purges order by up_to_seq desc limit 1`);
  const anchor = rows[0];
  if (anchor && (Number(anchor.seq) !== expected - 1 || anchor.hash !== prev.toString('hex'))) {
    return { ok: false, entries, problem: `the archives end at seq ${expected - 1}, but the database's chain starts after seq ${anchor.seq} with another hash` };
  }
  return { ok: true, entries };
}

/** Where the retention job archives audit entries: configured, else under the PGlite data directory. */
export function archiveLocation(archiveDir: string | undefined, dataDir: string | undefined): string | undefined {
  return archiveDir ?? (dataDir ? join(dataDir, 'audit', 'archive') : undefined);
}

/** The `retention.days` setting of the institution (the first one: a hub serves one institution). */
export async function retentionDaysSetting(db: Queryable, at: Date): Promise<Partial<Record<RetentionKind, number>>> {
  const { rows } = await db.query<{ value: Partial<Record<RetentionKind, number>> }>(
    `select value from settings_versions where key = 'retention.days' and scope_kind = 'institution' and effective_from <= $1 and value is not null
      order by effective_from desc, created_at desc limit 1`,
    [at],
  );
  return rows[0]?.value ?? {};
}
