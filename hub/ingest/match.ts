import type { TapMethod } from '../../protocol/index.js';
import type { AttendanceSettings } from '../config.js';
import type { Queryable } from '../db/db.js';
import { recordMarks, type NewMark } from '../ledger/ledger.js';
import type { MarkSource } from '../ledger/precedence.js';
import { insertUnmatchedTaps, type NewUnmatchedTap, type UnmatchedReason } from '../ledger/unmatched.js';

/**
 * Matching, in the matcher's transaction (matcher.ts): each queued tap
 * becomes a ledger mark or an unmatched tap with its reason (docs/ledger.md,
 * "Matching taps"). One classifying query for the whole batch, one for
 * earlier taps of the same records, then the ledger's and the unmatched
 * table's set-based inserts: no statement per tap.
 */

export type MatchSettings = Pick<AttendanceSettings, 'matchBeforeMinutes' | 'lateGraceMinutes' | 'duplicateWindowSeconds'>;

/** The channel a tap came through: terminals that identify a person are biometric. */
const SOURCE_OF_METHOD: Record<TapMethod, MarkSource> = {
  qr: 'qr',
  card: 'card',
  fingerprint: 'biometric',
  face: 'biometric',
  pin: 'biometric',
  password: 'biometric',
};

interface ClassifiedTap {
  eventId: string;
  campusId: string;
  deviceId: string;
  method: TapMethod;
  deviceTime: Date | null;
  receivedAt: Date;
  tappedAt: Date;
  roomId: string | null;
  studentId: string | null;
  sessionId: string | null;
  sessionStartsAt: Date | null;
  inWindow: boolean | null;
  finalized: boolean | null;
  onRoll: boolean | null;
}

/**
 * For each tap: the room of its device; the student its subject names (the
 * terminal user id for every method, also the roll or ID-card number for QR
 * and card); and the best session in that room on the tap's local day —
 * one whose window holds the tap and that is not finalized, the student's
 * own before another, the nearest start first. Each candidate's roll is read
 * once, and only where it can decide: on a busy day a room has many sessions.
 */
const CLASSIFY = `
with taps as (
  select e.id, e.campus_id, e.device_id, e.method, e.subject, e.device_time, e.received_at,
         coalesce(e.device_time, e.received_at) as tapped_at
    from events e
   where e.id = any($1::uuid[]) and e.kind = 'tap'
),
located as (
  select t.*, rd.room_id, c.timezone, who.id as student_id
    from taps t
    left join room_devices rd on rd.campus_id = t.campus_id and rd.device_id = t.device_id
    left join campuses c on c.id = t.campus_id
    left join lateral (
      select st.id from students st
       where rd.room_id is not null
         and (st.device_user_id = t.subject or (t.method in ('qr', 'card') and (st.roll_no = t.subject or st.id_card_no = t.subject)))
       order by case when st.device_user_id = t.subject then 0 when st.roll_no = t.subject then 1 else 2 end
       limit 1
    ) who on true
),
options as (
  select l.id as event_id, l.student_id, s.id, s.starts_at,
         l.tapped_at >= s.starts_at - $2::int * interval '1 minute' and l.tapped_at <= s.ends_at as in_window,
         s.finalized_at is not null as finalized,
         abs(extract(epoch from s.starts_at - l.tapped_at)) as distance
    from located l
    join sessions s on s.room_id = l.room_id and s.state <> 'cancelled'
     and s.starts_at between l.tapped_at - interval '1 day' and l.tapped_at + interval '1 day'
     and (s.starts_at at time zone l.timezone)::date = (l.tapped_at at time zone l.timezone)::date
),
-- The roll is looked up only for sessions that could take the tap: a tap that
-- fits none is reported against the nearest session of the day.
judged as (
  select o.*, o.in_window and not o.finalized as open_window,
         case when o.in_window and not o.finalized
              then exists (select 1 from session_roll r where r.session_id = o.id and r.student_id = o.student_id)
              else false end as on_roll
    from options o
),
best as (
  select distinct on (event_id) * from judged
   order by event_id, open_window desc, on_roll desc, distance
)
select l.id as "eventId", l.campus_id as "campusId", l.device_id as "deviceId", l.method, l.device_time as "deviceTime",
       l.received_at as "receivedAt", l.tapped_at as "tappedAt", l.room_id as "roomId", l.student_id as "studentId",
       b.id as "sessionId", b.starts_at as "sessionStartsAt", b.in_window as "inWindow", b.finalized, b.on_roll as "onRoll"
  from located l left join best b on b.event_id = l.id`;

type Verdict = { kind: 'candidate' } | { kind: 'unmatched'; reason: UnmatchedReason; details: Record<string, unknown> };

function verdictOf(tap: ClassifiedTap): Verdict {
  if (!tap.roomId) return { kind: 'unmatched', reason: 'unknown_device', details: { campusId: tap.campusId, deviceId: tap.deviceId } };
  if (!tap.sessionId) return { kind: 'unmatched', reason: 'no_session', details: { roomId: tap.roomId } };
  if (!tap.inWindow || tap.finalized) {
    return { kind: 'unmatched', reason: 'outside_window', details: { roomId: tap.roomId, nearestSessionId: tap.sessionId, finalized: tap.finalized } };
  }
  if (!tap.studentId) return { kind: 'unmatched', reason: 'unknown_student', details: { roomId: tap.roomId, sessionId: tap.sessionId } };
  if (!tap.onRoll) return { kind: 'unmatched', reason: 'not_enrolled', details: { sessionId: tap.sessionId, studentId: tap.studentId } };
  return { kind: 'candidate' };
}

export interface MatchSummary {
  marked: number;
  unmatched: Partial<Record<UnmatchedReason, number>>;
}

export async function matchTaps(tx: Queryable, eventIds: readonly string[], settings: MatchSettings, now: number): Promise<MatchSummary> {
  const summary: MatchSummary = { marked: 0, unmatched: {} };
  if (eventIds.length === 0) return summary;
  const { rows: taps } = await tx.query<ClassifiedTap>(CLASSIFY, [eventIds, settings.matchBeforeMinutes]);

  const unmatched: NewUnmatchedTap[] = [];
  const candidates: ClassifiedTap[] = [];
  for (const tap of taps) {
    const verdict = verdictOf(tap);
    if (verdict.kind === 'candidate') candidates.push(tap);
    else unmatched.push({ eventId: tap.eventId, reason: verdict.reason, details: verdict.details });
  }

  // Earlier taps of the same records, to tell a repeated tap from a new one.
  const tapTimes = new Map<string, number[]>();
  const key = (sessionId: string, studentId: string) => `${sessionId}/${studentId}`;
  if (candidates.length > 0) {
    const { rows } = await tx.query<{ sessionId: string; studentId: string; tappedAt: Date }>(
      `select session_id as "sessionId", student_id as "studentId", coalesce(device_time, received_at, recorded_at) as "tappedAt"
         from attendance_events
        where source in ('qr', 'biometric', 'card')
          and (session_id, student_id) in (select * from unnest($1::uuid[], $2::uuid[]))`,
      [candidates.map((tap) => tap.sessionId), candidates.map((tap) => tap.studentId)],
    );
    for (const row of rows) tapTimes.set(key(row.sessionId, row.studentId), [...(tapTimes.get(key(row.sessionId, row.studentId)) ?? []), row.tappedAt.getTime()]);
  }

  const marks: NewMark[] = [];
  const windowMs = settings.duplicateWindowSeconds * 1000;
  candidates.sort((a, b) => a.tappedAt.getTime() - b.tappedAt.getTime() || (a.eventId < b.eventId ? -1 : 1));
  for (const tap of candidates) {
    const sessionId = tap.sessionId!;
    const studentId = tap.studentId!;
    const at = tap.tappedAt.getTime();
    const earlier = tapTimes.get(key(sessionId, studentId)) ?? [];
    const repeated = earlier.find((time) => Math.abs(time - at) <= windowMs);
    if (repeated !== undefined) {
      unmatched.push({ eventId: tap.eventId, reason: 'duplicate', details: { sessionId, studentId, previousTapAt: new Date(repeated).toISOString() } });
      continue;
    }
    tapTimes.set(key(sessionId, studentId), [...earlier, at]);
    marks.push({
      sessionId,
      studentId,
      status: at > tap.sessionStartsAt!.getTime() + settings.lateGraceMinutes * 60_000 ? 'late' : 'present',
      source: SOURCE_OF_METHOD[tap.method],
      campusId: tap.campusId,
      deviceId: tap.deviceId,
      tapEventId: tap.eventId,
      deviceTime: tap.deviceTime,
      receivedAt: tap.receivedAt,
    });
  }

  summary.marked = (await recordMarks(tx, marks, now)).filter((mark) => mark.recorded).length;
  await insertUnmatchedTaps(tx, unmatched, now);
  for (const tap of unmatched) summary.unmatched[tap.reason] = (summary.unmatched[tap.reason] ?? 0) + 1;
  return summary;
}
