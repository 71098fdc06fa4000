import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { appendAudit, type AuditContext } from '../audit/append.js';
import type { HubConfig } from '../config.js';
import type { Queryable, Transaction } from '../db/db.js';
import { HttpError } from '../errors.js';
import { roomHasQueuedTaps } from '../ingest/matcher.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import type { SessionState } from './queries.js';

/** What a finalize hook learns about the session it finalizes. */
export interface FinalizedSession {
  id: string;
  termId: string;
  campusId: string;
  startsAt: Date;
  endsAt: Date;
  roomId: string | null;
  facultyId: string | null;
  finalizedBy: 'watermarks' | 'timeout';
}

/** Runs in the finalizing transaction; throwing rolls the finalization back, and it is tried again next tick. */
export type FinalizeHook = (tx: Transaction, session: FinalizedSession, now: Date) => Promise<void>;
/** How many marks (of any status) a session has; the ledger provides it. */
export type MarkCounter = (tx: Queryable, sessionId: string) => Promise<number>;

export type SessionAction = 'open' | 'close' | 'cancel';

export interface SessionService {
  /** Adds a hook that runs whenever a session is finalized, in the same transaction. */
  onFinalize(hook: FinalizeHook): void;
  /** Sets how marks are counted, for the not-taken check at close. Until one is set, nothing is flagged as not taken. */
  setMarkCounter(counter: MarkCounter): void;
  /**
   * Moves one session to its next state, conditionally (a concurrent change
   * wins and this one answers 409), audited as `session.<action>`. Closing
   * checks whether the session was taken.
   */
  transition(tx: Transaction, sessionId: string, action: SessionAction, context: TransitionContext): Promise<void>;
  /** Registers the automatic open, close, finalize and escalation jobs. */
  registerJobs(scheduler: Scheduler, everyMs: number): void;
}

export interface TransitionContext {
  audit: AuditContext;
  at: Date;
  reason?: string | null;
}

export type SessionSettings = HubConfig['sessions'];

const MINUTE = 60_000;

const TRANSITIONS: Record<SessionAction, { from: readonly SessionState[]; to: SessionState; set: string; verb: string }> = {
  open: { from: ['scheduled'], to: 'open', set: 'opened_at = $2', verb: 'opened' },
  close: { from: ['open'], to: 'closed', set: 'closed_at = $2', verb: 'closed' },
  cancel: { from: ['scheduled', 'open'], to: 'cancelled', set: 'cancelled_reason = $3', verb: 'cancelled' },
};

/** Why a transition cannot happen, in words a teacher understands. */
export function illegalTransitionMessage(action: SessionAction, state: SessionState): string {
  if (TRANSITIONS[action].to === state) return `session is already ${state}`;
  if (action === 'open' && state === 'closed') return 'session is closed; it cannot be opened again';
  if (action === 'close' && state === 'scheduled') return 'session is not open yet; open it before closing it';
  return `session is ${state}; it cannot be ${TRANSITIONS[action].verb}`;
}

interface ProvisionalSession {
  id: string;
  termId: string;
  campusId: string;
  startsAt: Date;
  endsAt: Date;
  roomId: string | null;
  facultyId: string | null;
}

export function createSessionService({ settings, logger }: { settings: SessionSettings; logger: Logger }): SessionService {
  const log = logger.child({ ns: 'hub:sessions' });
  const finalizeHooks: FinalizeHook[] = [];
  let markCounter: MarkCounter | undefined;

  async function flag(tx: Queryable, sessionId: string, kind: 'not_taken' | 'escalated' | 'finalize_timeout', details: unknown, at: Date): Promise<boolean> {
    const { rows } = await tx.query(
      `insert into session_flags (id, session_id, kind, details, created_at) values ($1, $2, $3, $4, $5) on conflict (session_id, kind) do nothing returning id`,
      [randomUUID(), sessionId, kind, JSON.stringify(details), at],
    );
    return rows.length > 0;
  }

  /** A session closed with no marks at all was probably not taken: its teacher is flagged now, the HOD later. */
  async function checkTaken(tx: Transaction, sessionId: string, at: Date, audit: AuditContext): Promise<void> {
    if (!markCounter) return;
    if ((await markCounter(tx, sessionId)) > 0) return;
    const { rows } = await tx.query<{ facultyId: string | null }>('select faculty_id as "facultyId" from sessions where id = $1', [sessionId]);
    if (await flag(tx, sessionId, 'not_taken', { facultyId: rows[0]?.facultyId ?? null }, at)) {
      await appendAudit(tx, { ...audit, action: 'session.flag.not_taken', target: `session:${sessionId}` });
    }
  }

  async function transitionIfLegal(tx: Transaction, sessionId: string, action: SessionAction, { audit, at, reason }: TransitionContext): Promise<SessionState | null> {
    const spec = TRANSITIONS[action];
    const allowed = spec.from.map((state) => `'${state}'`).join(', ');
    const { rows } = await tx.query<{ before: SessionState }>(
      `update sessions s set state = '${spec.to}', ${spec.set}, updated_at = $2
         from (select id, state from sessions where id = $1 for update) old
        where s.id = old.id and old.state in (${allowed})
        returning old.state as before`,
      action === 'cancel' ? [sessionId, at, reason ?? null] : [sessionId, at],
    );
    if (rows.length === 0) return null;
    await appendAudit(tx, { ...audit, action: `session.${action}`, target: `session:${sessionId}`, before: { state: rows[0]!.before }, after: { state: spec.to }, reason: reason ?? null });
    if (action === 'close') await checkTaken(tx, sessionId, at, audit);
    return rows[0]!.before;
  }

  async function transition(tx: Transaction, sessionId: string, action: SessionAction, context: TransitionContext): Promise<void> {
    if ((await transitionIfLegal(tx, sessionId, action, context)) !== null) return;
    const { rows } = await tx.query<{ state: SessionState }>('select state from sessions where id = $1', [sessionId]);
    if (!rows[0]) throw new HttpError(404, 'not_found', 'no such object');
    throw new HttpError(409, 'illegal_transition', illegalTransitionMessage(action, rows[0].state), { state: rows[0].state, action });
  }

  const system = (job: string): AuditContext => ({ actor: `system:${job}`, source: 'system' });

  async function autoOpen(tx: Transaction, now: Date): Promise<void> {
    const { rows } = await tx.query<{ id: string }>(`select id from sessions where state = 'scheduled' and starts_at <= $1 order by starts_at, id`, [
      new Date(now.getTime() + settings.openBeforeMinutes * MINUTE),
    ]);
    for (const { id } of rows) await transitionIfLegal(tx, id, 'open', { audit: system('sessions.auto-open'), at: now });
    if (rows.length > 0) log.info({ sessions: rows.length }, 'opened sessions');
  }

  async function autoClose(tx: Transaction, now: Date): Promise<void> {
    const { rows } = await tx.query<{ id: string }>(`select id from sessions where state = 'open' and ends_at <= $1 order by ends_at, id`, [
      new Date(now.getTime() - settings.closeAfterMinutes * MINUTE),
    ]);
    for (const { id } of rows) await transitionIfLegal(tx, id, 'close', { audit: system('sessions.auto-close'), at: now });
    if (rows.length > 0) log.info({ sessions: rows.length }, 'closed sessions');
  }

  /**
   * A closed session is final once every door device of its room has
   * delivered its events up to the end plus the grace period, or at the
   * timeout, flagged with the devices that had not; and never while taps
   * from its room wait in the match queue.
   */
  async function finalize(tx: Transaction, now: Date): Promise<void> {
    const { rows } = await tx.query<ProvisionalSession>(
      `select id, term_id as "termId", campus_id as "campusId", starts_at as "startsAt", ends_at as "endsAt", room_id as "roomId", faculty_id as "facultyId"
         from sessions where state = 'closed' and finalized_at is null order by ends_at, id limit 1000`,
    );
    for (const session of rows) {
      const syncedBy = new Date(session.endsAt.getTime() + settings.finalizeGraceMinutes * MINUTE);
      const { rows: devices } = await tx.query<{ deviceId: string; upTo: Date | null }>(
        `select rd.device_id as "deviceId", w.up_to as "upTo"
           from room_devices rd left join device_watermarks w on w.campus_id = rd.campus_id and w.device_id = rd.device_id
          where rd.room_id = $1 and rd.campus_id = $2 order by rd.device_id`,
        [session.roomId, session.campusId],
      );
      // Delivered is not yet matched: the session waits for its room's queued taps whatever the clock says.
      if (session.roomId && (await roomHasQueuedTaps(tx, session.campusId, session.roomId))) continue;
      const behind = devices.filter((device) => device.upTo === null || device.upTo < syncedBy);
      const timedOut = now.getTime() >= session.endsAt.getTime() + settings.finalizeTimeoutMinutes * MINUTE;
      if (behind.length > 0 && !timedOut) continue;
      const finalizedBy = behind.length === 0 ? 'watermarks' : 'timeout';
      const { rows: finalized } = await tx.query(
        `update sessions set finalized_at = $2, finalized_by = $3, updated_at = $2 where id = $1 and state = 'closed' and finalized_at is null returning id`,
        [session.id, now, finalizedBy],
      );
      if (finalized.length === 0) continue;
      const notSynced = behind.map((device) => ({ deviceId: device.deviceId, upTo: device.upTo?.toISOString() ?? null }));
      if (finalizedBy === 'timeout') await flag(tx, session.id, 'finalize_timeout', { devicesNotSynced: notSynced, syncedBy: syncedBy.toISOString() }, now);
      await appendAudit(tx, {
        ...system('sessions.finalize'),
        action: 'session.finalize',
        target: `session:${session.id}`,
        after: { finalizedBy, ...(finalizedBy === 'timeout' ? { devicesNotSynced: notSynced } : {}) },
      });
      for (const hook of finalizeHooks) await hook(tx, { ...session, finalizedBy }, now);
    }
  }

  /** Not-taken flags older than the delay go to the HOD, unless marks arrived meanwhile (then the flag is resolved). */
  async function escalateNotTaken(tx: Transaction, now: Date): Promise<void> {
    if (!markCounter) return;
    const { rows } = await tx.query<{ flagId: string; sessionId: string }>(
      `select f.id as "flagId", f.session_id as "sessionId" from session_flags f
        where f.kind = 'not_taken' and f.resolved_at is null and f.created_at <= $1
          and not exists (select 1 from session_flags e where e.session_id = f.session_id and e.kind = 'escalated')
        order by f.created_at, f.id`,
      [new Date(now.getTime() - settings.notTakenEscalateMinutes * MINUTE)],
    );
    for (const { flagId, sessionId } of rows) {
      if ((await markCounter(tx, sessionId)) > 0) {
        await tx.query('update session_flags set resolved_at = $2 where id = $1 and resolved_at is null', [flagId, now]);
        continue;
      }
      const { rows: hods } = await tx.query<{ departmentId: string; userId: string | null }>(
        `select distinct c.department_id as "departmentId", u.id as "userId"
           from session_groups g join course_sections c on c.id = g.section_id
           left join users u on u.role = 'hod' and u.department_id = c.department_id and u.status = 'active'
          where g.session_id = $1 order by 1, 2`,
        [sessionId],
      );
      const details = { departmentIds: [...new Set(hods.map((row) => row.departmentId))], hodUserIds: hods.flatMap((row) => (row.userId ? [row.userId] : [])) };
      if (await flag(tx, sessionId, 'escalated', details, now)) {
        await appendAudit(tx, { ...system('sessions.escalate'), action: 'session.flag.escalated', target: `session:${sessionId}`, after: details });
      }
    }
  }

  return {
    onFinalize: (hook) => void finalizeHooks.push(hook),
    setMarkCounter(counter) {
      markCounter = counter;
    },
    transition,
    registerJobs(scheduler, everyMs) {
      scheduler.register('sessions.auto-open', everyMs, autoOpen);
      scheduler.register('sessions.auto-close', everyMs, autoClose);
      scheduler.register('sessions.finalize', everyMs, finalize);
      scheduler.register('sessions.escalate', everyMs, escalateNotTaken);
    },
  };
}
