import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import Database from 'better-sqlite3';
import {
  PersonalQrError,
  isPersonalQr,
  personalQrPublicKeyOf,
  verifyPersonalQr,
  type CommandParams,
  type OfflineSession,
} from '../../protocol/index.js';

export type OfflineDocument = CommandParams<'offline.cache'>;

export type OfflineReason =
  | 'on_roll'
  | 'not_on_roll'
  | 'no_session'
  | 'unknown_subject'
  | 'no_cache'
  | 'qr_malformed'
  | 'qr_forged'
  | 'qr_expired'
  | 'qr_replayed';

export interface OfflineDecision {
  accepted: boolean;
  reason: OfflineReason;
  /** Human-readable, for the door's display and the log. */
  message: string;
  studentId?: string;
  sessionId?: string;
}

const QR_REASONS: Record<PersonalQrError['code'], OfflineReason> = {
  malformed: 'qr_malformed',
  bad_signature: 'qr_forged',
  expired: 'qr_expired',
  not_yet_valid: 'qr_expired',
  replayed: 'qr_replayed',
};

/**
 * Today's sessions, rooms and rolls as the hub last pushed them
 * (`offline.cache`), kept in `offline.sqlite` so that a door can accept or
 * refuse a tap while the hub is unreachable, across agent restarts. The
 * decision is advisory, for the door: every tap still goes to the outbox and
 * the hub decides what it means for attendance.
 */
export class OfflineCache {
  readonly path: string;
  private readonly db: Database.Database;
  private document: OfflineDocument | undefined;
  private publicKey: KeyObject | undefined;

  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true });
    this.path = join(dataDir, 'offline.sqlite');
    this.db = new Database(this.path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.exec(`
      create table if not exists cache (id integer primary key check (id = 1), document text not null, stored_at text not null);
      -- Nonces of personal QR codes already accepted, kept until the code expires.
      create table if not exists seen_codes (nonce text primary key, expires_at integer not null);
    `);
    const row = this.db.prepare<[], { document: string }>('select document from cache where id = 1').get();
    if (row) this.use(JSON.parse(row.document) as OfflineDocument);
  }

  /** Replaces the cache with a newer document from the hub (an older one is ignored). */
  store(document: OfflineDocument): { sessions: number; students: number } {
    const key = personalQrPublicKeyOf(document.personalQrPublicKey);
    if (!this.document || Date.parse(document.issuedAt) >= Date.parse(this.document.issuedAt)) {
      this.db
        .prepare('insert into cache (id, document, stored_at) values (1, ?, ?) on conflict (id) do update set document = excluded.document, stored_at = excluded.stored_at')
        .run(JSON.stringify(document), new Date().toISOString());
      this.document = document;
      this.publicKey = key;
    }
    return { sessions: document.sessions.length, students: new Set(document.sessions.flatMap((session) => session.students.map((student) => student.studentId))).size };
  }

  get day(): string | undefined {
    return this.document?.day;
  }

  /**
   * Whether the door should accept a tap of `subject` (a terminal's user id,
   * a card or QR payload, or a personal QR code) at `deviceId` at `atMs`.
   * `studentOfSubject` maps what else the agent knows (a module's slot) to a
   * student.
   */
  decide(deviceId: string, subject: string, atMs: number, studentOfSubject?: (deviceId: string, subject: string) => string | undefined): OfflineDecision {
    const document = this.document;
    if (!document || !this.publicKey) return { accepted: false, reason: 'no_cache', message: 'no roster cached yet; the hub has not sent today\'s sessions' };
    let studentId: string | undefined;
    if (isPersonalQr(subject)) {
      try {
        const claims = verifyPersonalQr(subject, this.publicKey, atMs);
        if (!this.firstUse(claims.n, claims.exp, atMs)) throw new PersonalQrError('replayed', 'this personal QR code has been used already; show a fresh one');
        studentId = claims.sid;
      } catch (error) {
        if (!(error instanceof PersonalQrError)) throw error;
        return { accepted: false, reason: QR_REASONS[error.code], message: error.message };
      }
    }
    const sessions = document.sessions.filter((session) => session.deviceIds.includes(deviceId) && isOn(session, atMs));
    if (sessions.length === 0) return { accepted: false, reason: 'no_session', message: `no session at ${deviceId} now`, ...(studentId ? { studentId } : {}) };
    // A student of another session today is known, and told they are not on this roll.
    studentId ??= studentOfSubject?.(deviceId, subject) ?? studentByDeviceUserId(document.sessions, subject);
    if (!studentId) return { accepted: false, reason: 'unknown_subject', message: 'not a student of this session' };
    const session = sessions.find((candidate) => candidate.students.some((student) => student.studentId === studentId));
    if (!session) return { accepted: false, reason: 'not_on_roll', message: 'not on the roll of the session here now', studentId };
    return { accepted: true, reason: 'on_roll', message: 'welcome', studentId, sessionId: session.sessionId };
  }

  close(): void {
    this.db.close();
  }

  private use(document: OfflineDocument): void {
    this.document = document;
    this.publicKey = personalQrPublicKeyOf(document.personalQrPublicKey);
  }

  /** Records a code's nonce; false when it was seen before. Expired nonces are dropped on the way. */
  private firstUse(nonce: string, expiresAt: number, atMs: number): boolean {
    return this.db.transaction(() => {
      this.db.prepare('delete from seen_codes where expires_at < ?').run(Math.floor(atMs / 1000) - 3600);
      return this.db.prepare('insert into seen_codes (nonce, expires_at) values (?, ?) on conflict (nonce) do nothing').run(nonce, expiresAt).changes === 1;
    })();
  }
}

function isOn(session: OfflineSession, atMs: number): boolean {
  return atMs >= Date.parse(session.startsAt) - session.openBeforeMinutes * 60_000 && atMs <= Date.parse(session.endsAt);
}

function studentByDeviceUserId(sessions: OfflineSession[], subject: string): string | undefined {
  for (const session of sessions) {
    const student = session.students.find((candidate) => candidate.deviceUserId === subject);
    if (student) return student.studentId;
  }
  return undefined;
}
