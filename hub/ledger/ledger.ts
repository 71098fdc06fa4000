import { uuidv7 } from '../../protocol/index.js';
import type { Queryable } from '../db/db.js';
import { outranks, project, TAP_SOURCES, type AttendanceStatus, type MarkSource, type RankedEvent } from './precedence.js';

/**
 * The attendance ledger: marks are appended as immutable events and the
 * record's effective status (`attendance_current`) is kept in the same
 * transaction by the precedence rule. Every marking path (manual, bulk, QR
 * scan, device taps, leave, automatic absents) comes through `recordMarks`.
 */

export interface NewMark {
  sessionId: string;
  studentId: string;
  status: AttendanceStatus;
  source: MarkSource;
  /** A user id, or `system:<job>`; null for device taps. */
  actor?: string | null;
  campusId?: string | null;
  deviceId?: string | null;
  /** The tap (events.id) this mark came from; a second mark of the same tap is ignored. */
  tapEventId?: string | null;
  deviceTime?: Date | null;
  receivedAt?: Date | null;
  reason?: string | null;
  /**
   * Makes this mark a revocation of an earlier event of the same record (a
   * revoked leave): the compensating event that takes it out of the
   * projection. Its status and source repeat the revoked event's.
   */
  revokes?: string | null;
}

export interface LedgerEvent {
  id: string;
  sessionId: string;
  studentId: string;
  status: AttendanceStatus;
  source: MarkSource;
  actor: string | null;
  campusId: string | null;
  deviceId: string | null;
  tapEventId: string | null;
  deviceTime: Date | null;
  receivedAt: Date | null;
  recordedAt: Date;
  reason: string | null;
  revokes: string | null;
}

export interface RecordState {
  sessionId: string;
  studentId: string;
  /** The effective status; null when nothing has been recorded. */
  status: AttendanceStatus | null;
  /** The event that decided it. */
  decidedBy: LedgerEvent | null;
}

const EVENT_COLUMNS = `e.id, e.session_id as "sessionId", e.student_id as "studentId", e.status, e.source, e.actor,
  e.campus_id as "campusId", e.device_id as "deviceId", e.tap_event_id as "tapEventId",
  e.device_time as "deviceTime", e.received_at as "receivedAt", e.recorded_at as "recordedAt", e.reason, e.revokes`;

export function rankOf(event: LedgerEvent): RankedEvent {
  const tapped = TAP_SOURCES.includes(event.source) ? (event.deviceTime ?? event.receivedAt ?? event.recordedAt).getTime() : null;
  return { id: event.id, status: event.status, source: event.source, recordedAt: event.recordedAt.getTime(), tappedAt: tapped, revokes: event.revokes };
}

const recordKey = (sessionId: string, studentId: string) => `${sessionId}/${studentId}`;

const byRecordKey = (a: { sessionId: string; studentId: string }, b: { sessionId: string; studentId: string }) =>
  a.sessionId === b.sessionId ? (a.studentId < b.studentId ? -1 : a.studentId > b.studentId ? 1 : 0) : a.sessionId < b.sessionId ? -1 : 1;

/**
 * Locks the records of these (session, student) pairs for the rest of the
 * transaction, creating their rows on first use, and returns the event that
 * currently decides each. Rows are locked in key order, so two transactions
 * that lock overlapping sets cannot deadlock.
 */
export async function lockRecords(tx: Queryable, keys: readonly { sessionId: string; studentId: string }[]): Promise<Map<string, LedgerEvent | null>> {
  const unique = [...new Map(keys.map((key) => [recordKey(key.sessionId, key.studentId), key])).values()].sort(byRecordKey);
  const params = [unique.map((key) => key.sessionId), unique.map((key) => key.studentId)];
  await tx.query('insert into attendance_current (session_id, student_id) select * from unnest($1::uuid[], $2::uuid[]) on conflict do nothing', params);
  return lockExisting(tx, unique);
}

/** Locks records whose rows exist (in key order) and returns the event that decides each. */
async function lockExisting(tx: Queryable, sorted: readonly { sessionId: string; studentId: string }[]): Promise<Map<string, LedgerEvent | null>> {
  if (sorted.length === 0) return new Map();
  const { rows: locked } = await tx.query<{ sessionId: string; studentId: string; eventId: string | null }>(
    `select session_id as "sessionId", student_id as "studentId", event_id as "eventId"
       from attendance_current
      where (session_id, student_id) in (select * from unnest($1::uuid[], $2::uuid[]))
      order by session_id, student_id
      for update`,
    [sorted.map((key) => key.sessionId), sorted.map((key) => key.studentId)],
  );
  // A separate statement, so that it sees the events of transactions this one waited for:
  // a join in the locking statement would read them from the snapshot taken before the wait.
  const eventIds = locked.flatMap((row) => (row.eventId ? [row.eventId] : []));
  const { rows: deciding } = eventIds.length > 0 ? await tx.query<LedgerEvent>(`select ${EVENT_COLUMNS} from attendance_events e where e.id = any($1::uuid[])`, [eventIds]) : { rows: [] };
  const byId = new Map(deciding.map((event) => [event.id, event]));
  return new Map(locked.map((row) => [recordKey(row.sessionId, row.studentId), row.eventId ? byId.get(row.eventId)! : null]));
}

export interface RecordedMark {
  event: LedgerEvent;
  /** False when the mark's tap had already been recorded: nothing was written. */
  recorded: boolean;
}

/** Each record's best event among these, by the precedence rule. */
function winnersByRecord(events: readonly LedgerEvent[]): Map<string, LedgerEvent> {
  const winners = new Map<string, LedgerEvent>();
  for (const event of events) {
    const key = recordKey(event.sessionId, event.studentId);
    const best = winners.get(key);
    if (!best || outranks(rankOf(event), rankOf(best))) winners.set(key, event);
  }
  return winners;
}

/** A record's new deciding event; null when every event of it has been revoked. */
interface RecordUpdate {
  sessionId: string;
  studentId: string;
  winner: LedgerEvent | null;
}

/** Sets records' effective status, in one statement. */
async function setCurrent(tx: Queryable, updates: readonly RecordUpdate[], at: Date): Promise<void> {
  if (updates.length === 0) return;
  await tx.query(
    `update attendance_current c set status = u.status, event_id = u.event_id, source = u.source, updated_at = $6
       from unnest($1::uuid[], $2::uuid[], $3::text[], $4::uuid[], $5::text[]) as u(session_id, student_id, status, event_id, source)
      where c.session_id = u.session_id and c.student_id = u.student_id`,
    [
      updates.map((update) => update.sessionId),
      updates.map((update) => update.studentId),
      updates.map((update) => update.winner?.status ?? null),
      updates.map((update) => update.winner?.id ?? null),
      updates.map((update) => update.winner?.source ?? null),
      at.toISOString(),
    ],
  );
}

/**
 * Appends marks as events and brings each touched record's effective status
 * up to date, all within the caller's transaction. A constant number of
 * statements for any number of marks.
 *
 * A record marked for the first time gets its row, with its status, in one
 * INSERT; only records that already have a row are locked and compared with
 * the event that decides them. A concurrent first mark of the same record
 * makes the INSERT wait for it and then conflict, so the record is compared
 * under its lock like any other: the events recorded here are already in the
 * ledger, and every transaction compares its own against the committed winner.
 * A record with a revocation among the new events is folded again from its
 * whole history under its lock instead.
 */
export async function recordMarks(tx: Queryable, marks: readonly NewMark[], now: number): Promise<RecordedMark[]> {
  if (marks.length === 0) return [];
  const recordedAt = new Date(now);
  const events: LedgerEvent[] = marks.map((mark) => ({
    id: uuidv7(now),
    sessionId: mark.sessionId,
    studentId: mark.studentId,
    status: mark.status,
    source: mark.source,
    actor: mark.actor ?? null,
    campusId: mark.campusId ?? null,
    deviceId: mark.deviceId ?? null,
    tapEventId: mark.tapEventId ?? null,
    deviceTime: mark.deviceTime ?? null,
    receivedAt: mark.receivedAt ?? null,
    recordedAt,
    reason: mark.reason ?? null,
    revokes: mark.revokes ?? null,
  }));
  // Dates go as ISO text: both drivers take that inside array parameters.
  const column = <K extends keyof LedgerEvent>(key: K) => events.map((event) => (event[key] instanceof Date ? (event[key] as Date).toISOString() : event[key]));
  const { rows: inserted } = await tx.query<{ id: string }>(
    `insert into attendance_events (id, session_id, student_id, status, source, actor, campus_id, device_id, tap_event_id, device_time, received_at, recorded_at, reason, revokes)
     select * from unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::uuid[],
                          $10::timestamptz[], $11::timestamptz[], $12::timestamptz[], $13::text[], $14::uuid[])
     on conflict do nothing
     returning id`,
    [
      column('id'),
      column('sessionId'),
      column('studentId'),
      column('status'),
      column('source'),
      column('actor'),
      column('campusId'),
      column('deviceId'),
      column('tapEventId'),
      column('deviceTime'),
      column('receivedAt'),
      column('recordedAt'),
      column('reason'),
      column('revokes'),
    ],
  );
  const insertedIds = new Set(inserted.map((row) => row.id));
  const revoking = events.filter((event) => event.revokes && insertedIds.has(event.id));
  const refoldKeys = new Set(revoking.map((event) => recordKey(event.sessionId, event.studentId)));
  const candidates = [
    ...winnersByRecord(events.filter((event) => insertedIds.has(event.id) && !refoldKeys.has(recordKey(event.sessionId, event.studentId)))).values(),
  ].sort(byRecordKey);

  const { rows: created } = candidates.length > 0
    ? await tx.query<{ eventId: string }>(
        `insert into attendance_current (session_id, student_id, status, event_id, source, updated_at)
         select u.session_id, u.student_id, u.status, u.event_id, u.source, $6 from unnest($1::uuid[], $2::uuid[], $3::text[], $4::uuid[], $5::text[]) as u(session_id, student_id, status, event_id, source)
         on conflict do nothing
         returning event_id as "eventId"`,
        [
          candidates.map((event) => event.sessionId),
          candidates.map((event) => event.studentId),
          candidates.map((event) => event.status),
          candidates.map((event) => event.id),
          candidates.map((event) => event.source),
          recordedAt.toISOString(),
        ],
      )
    : { rows: [] };
  const decided = new Set(created.map((row) => row.eventId));
  const contested = candidates.filter((event) => !decided.has(event.id));
  // A revoked event's record has its row already; it is locked with the contested ones, in one key order.
  const revokedRecords = [...new Map(revoking.map((event) => [recordKey(event.sessionId, event.studentId), event])).values()];
  const current = await lockExisting(tx, [...contested, ...revokedRecords].sort(byRecordKey));
  const updates: RecordUpdate[] = [...(await refoldRecords(tx, revokedRecords)).values()];
  for (const event of contested) {
    const winner = current.get(recordKey(event.sessionId, event.studentId)) ?? null;
    if (outranks(rankOf(event), winner && rankOf(winner))) updates.push({ sessionId: event.sessionId, studentId: event.studentId, winner: event });
  }
  await setCurrent(tx, updates, recordedAt);
  return events.map((event) => ({ event, recorded: insertedIds.has(event.id) }));
}

/**
 * A revocation can take away the event that decides a record, and what then
 * decides depends on every other event of it: these records (locked, their
 * new events inserted) are folded again from their whole history.
 */
async function refoldRecords(tx: Queryable, records: readonly { sessionId: string; studentId: string }[]): Promise<Map<string, RecordUpdate>> {
  const refolded = new Map<string, RecordUpdate>();
  if (records.length === 0) return refolded;
  const { rows } = await tx.query<LedgerEvent>(
    `select ${EVENT_COLUMNS} from attendance_events e
      where (e.session_id, e.student_id) in (select * from unnest($1::uuid[], $2::uuid[]))`,
    [records.map((record) => record.sessionId), records.map((record) => record.studentId)],
  );
  const byRecord = new Map<string, LedgerEvent[]>();
  for (const event of rows) {
    const key = recordKey(event.sessionId, event.studentId);
    byRecord.set(key, [...(byRecord.get(key) ?? []), event]);
  }
  for (const record of records) {
    const key = recordKey(record.sessionId, record.studentId);
    const winner = project((byRecord.get(key) ?? []).map((candidate) => ({ ...rankOf(candidate), event: candidate })));
    refolded.set(key, { sessionId: record.sessionId, studentId: record.studentId, winner: winner?.event ?? null });
  }
  return refolded;
}

/** A record's events in the order they were recorded. */
export async function recordHistory(db: Queryable, sessionId: string, studentId: string): Promise<LedgerEvent[]> {
  const { rows } = await db.query<LedgerEvent>(
    `select ${EVENT_COLUMNS} from attendance_events e where e.session_id = $1 and e.student_id = $2 order by e.recorded_at, e.id`,
    [sessionId, studentId],
  );
  return rows;
}

/** The record as it stood at `asOf`: the projection over the events recorded by then. */
export function recordAsOf(events: readonly LedgerEvent[], asOf: number): LedgerEvent | null {
  const known = events.filter((event) => event.recordedAt.getTime() <= asOf);
  const winner = project(known.map((event) => ({ ...rankOf(event), event })));
  return winner?.event ?? null;
}

/** Whether the student already marked themselves with this session's rotating QR (a door QR reader's tap does not count). */
export async function hasScannedSessionQr(tx: Queryable, sessionId: string, studentId: string): Promise<boolean> {
  const { rows } = await tx.query(
    `select 1 from attendance_events where session_id = $1 and student_id = $2 and source = 'qr' and tap_event_id is null limit 1`,
    [sessionId, studentId],
  );
  return rows.length > 0;
}

/**
 * For session finalization: an automatic absent for every student on the
 * session's roll (enrolled in its groups by the session's date) who has no
 * status. Returns how many were marked.
 */
export async function fillUnmarkedAsAbsent(tx: Queryable, sessionId: string, now: Date | number): Promise<number> {
  const at = new Date(now).getTime();
  const { rows } = await tx.query<{ studentId: string }>(
    `select r.student_id as "studentId"
       from session_roll r
       left join attendance_current c on c.session_id = r.session_id and c.student_id = r.student_id
      where r.session_id = $1 and c.status is null
      order by r.student_id`,
    [sessionId],
  );
  const marks = rows.map((row): NewMark => ({ sessionId, studentId: row.studentId, status: 'absent', source: 'automatic', actor: 'system:finalize' }));
  const recorded = await recordMarks(tx, marks, at);
  return recorded.filter((mark) => mark.recorded).length;
}

/** How many students of the session have a status. */
export async function countMarks(tx: Queryable, sessionId: string): Promise<number> {
  const { rows } = await tx.query<{ count: number }>('select count(*)::int as count from attendance_current where session_id = $1 and status is not null', [sessionId]);
  return rows[0]!.count;
}
