import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { TapEvent, isUuid, uuidv7, validator, type AgentEvent, type Rejection, type TapMethod } from '../../protocol/index.js';

/**
 * The agent's durable outbox: every event is committed here before a device
 * is told it was stored, and leaves only when the hub acknowledges that it
 * committed it, or moves to quarantine when the hub rejects it. Nothing is
 * ever deleted by age. WAL with synchronous=FULL: a commit survives power
 * loss, not only a process crash (better-sqlite3 defaults WAL to NORMAL).
 */
export interface OutboxRow {
  seq: number;
  id: string;
  body: string;
}

export interface QuarantinedEvent {
  id: string;
  reason: string;
  quarantinedAt: string;
  body: string;
}

export class InvalidEventError extends Error {
  override readonly name = 'InvalidEventError';
}

const SCHEMA = `
  create table if not exists outbox (
    seq        integer primary key autoincrement,
    id         text    not null unique,
    body       text    not null,
    created_at integer not null
  );
  create table if not exists quarantine (
    id             text    primary key,
    body           text    not null,
    reason         text    not null,
    quarantined_at integer not null
  );
  create table if not exists recent_scans (
    device_id text    not null,
    code      text    not null,
    seen_at   integer not null,
    primary key (device_id, code)
  );
  create index if not exists recent_scans_seen_at on recent_scans (seen_at);
  -- Keys of device log records already committed, so a record read again (realtime, then in a log download) counts once.
  create table if not exists device_keys (
    device_id  text not null,
    device_key text not null,
    primary key (device_id, device_key)
  ) without rowid;
  -- Where each device's log was read up to (log.ts): the log epoch, the position and the hash of the record before it.
  create table if not exists log_cursors (
    device_id  text    primary key,
    serial     text,
    epoch      integer not null,
    position   integer not null,
    last_hash  text,
    updated_at integer not null
  );
  -- Per device: every event up to candidate_up_to is in the outbox at or below candidate_seq; once those
  -- rows have left, delivered_up_to takes the candidate (watermarks.ts).
  create table if not exists watermarks (
    device_id       text    primary key,
    delivered_up_to integer,
    candidate_up_to integer,
    candidate_seq   integer
  );
  -- Operator commands that deleted undelivered events: the only way they ever leave unacknowledged.
  create table if not exists discards (
    id        integer primary key autoincrement,
    at        integer not null,
    actor     text    not null,
    reason    text    not null,
    count     integer not null,
    first_seq integer,
    last_seq  integer
  );
`;

const tapValidator = validator(TapEvent);

export type TapOutcome = { recorded: true; event: AgentEvent } | { recorded: false; reason: 'debounced' | 'duplicate' };

/** Where a device's log was read up to. ZK logs have no record index, so the position is only trusted together with the hash of the record before it. */
export interface LogCursor {
  serial: string | null;
  /** Increases whenever the log was cleared, shrank or changed underneath. */
  epoch: number;
  /** Records of this epoch already committed. */
  position: number;
  /** Hash of the record at `position - 1`, null at position 0. */
  lastHash: string | null;
}

export interface Watermark {
  deviceId: string;
  /** Every event of the device up to this time (ms) has been delivered and acknowledged. */
  deliveredUpTo: number | null;
}

/** What a device reported, before the agent gives it an id and a receipt time. */
export interface DeviceTap {
  method: TapMethod;
  subject: string;
  deviceTime: Date | null;
  deviceKey?: string;
  score?: number;
  /** The device clock was more than 5 minutes off (agent/clock/deviceClocks.ts); the device time is kept as stamped. */
  clockSuspect?: boolean;
}

export class Outbox {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly statements;
  private readonly pageSize: number;

  constructor(dataDir: string, private readonly now: () => number = Date.now) {
    mkdirSync(dataDir, { recursive: true });
    this.path = join(dataDir, 'outbox.sqlite');
    this.db = new Database(this.path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    this.statements = {
      insert: this.db.prepare<[string, string, number]>('insert into outbox (id, body, created_at) values (?, ?, ?)'),
      after: this.db.prepare<[number, number], OutboxRow>('select seq, id, body from outbox where seq > ? order by seq limit ?'),
      delete: this.db.prepare<[string]>('delete from outbox where id = ?'),
      quarantine: this.db.prepare<[string, number, string]>(
        `insert or replace into quarantine (id, body, reason, quarantined_at)
         select id, body, ?, ? from outbox where id = ?`,
      ),
      lastScan: this.db.prepare<[string, string], { seen_at: number }>('select seen_at from recent_scans where device_id = ? and code = ?'),
      rememberScan: this.db.prepare<[string, string, number]>('insert or replace into recent_scans (device_id, code, seen_at) values (?, ?, ?)'),
      forgetScans: this.db.prepare<[number]>('delete from recent_scans where seen_at < ?'),
      depth: this.db.prepare<[], { depth: number; oldest: number | null }>('select count(*) as depth, min(created_at) as oldest from outbox'),
      quarantineCount: this.db.prepare<[], { n: number }>('select count(*) as n from quarantine'),
      quarantineList: this.db.prepare<[number], { id: string; reason: string; quarantined_at: number; body: string }>(
        'select id, reason, quarantined_at, body from quarantine order by quarantined_at, id limit ?',
      ),
      release: this.db.prepare<[number, string]>('insert into outbox (id, body, created_at) select id, body, ? from quarantine where id = ?'),
      unquarantine: this.db.prepare<[string]>('delete from quarantine where id = ?'),
      rememberKey: this.db.prepare<[string, string]>('insert or ignore into device_keys (device_id, device_key) values (?, ?)'),
      forgetKeys: this.db.prepare<[string]>('delete from device_keys where device_id = ?'),
      cursor: this.db.prepare<[string], { serial: string | null; epoch: number; position: number; last_hash: string | null }>(
        'select serial, epoch, position, last_hash from log_cursors where device_id = ?',
      ),
      saveCursor: this.db.prepare<[string, string | null, number, number, string | null, number]>(
        'insert or replace into log_cursors (device_id, serial, epoch, position, last_hash, updated_at) values (?, ?, ?, ?, ?, ?)',
      ),
      maxSeq: this.db.prepare<[], { seq: number | null }>('select max(seq) as seq from outbox'),
      minSeq: this.db.prepare<[], { seq: number | null }>('select min(seq) as seq from outbox'),
      setCandidate: this.db.prepare<[string, number, number]>(
        `insert into watermarks (device_id, candidate_up_to, candidate_seq) values (?, ?, ?)
         on conflict (device_id) do update set candidate_up_to = max(coalesce(candidate_up_to, 0), excluded.candidate_up_to),
           candidate_seq = max(coalesce(candidate_seq, 0), excluded.candidate_seq)`,
      ),
      promoteWatermarks: this.db.prepare<[number]>(
        `update watermarks set delivered_up_to = max(coalesce(delivered_up_to, 0), candidate_up_to)
         where candidate_up_to is not null and candidate_seq < ?`,
      ),
      watermarks: this.db.prepare<[], { device_id: string; delivered_up_to: number | null }>(
        'select device_id, delivered_up_to from watermarks order by device_id',
      ),
      pageCount: this.db.prepare<[], { page_count: number }>('pragma page_count'),
      freePages: this.db.prepare<[], { freelist_count: number }>('pragma freelist_count'),
      undelivered: this.db.prepare<[number, number], { n: number; first: number | null; last: number | null }>(
        'select count(*) as n, min(seq) as first, max(seq) as last from outbox where seq between ? and ?',
      ),
      deleteRange: this.db.prepare<[number, number]>('delete from outbox where seq between ? and ?'),
      recordDiscard: this.db.prepare<[number, string, string, number, number | null, number | null]>(
        'insert into discards (at, actor, reason, count, first_seq, last_seq) values (?, ?, ?, ?, ?, ?)',
      ),
      discards: this.db.prepare<[], { at: number; actor: string; reason: string; count: number; first_seq: number | null; last_seq: number | null }>(
        'select at, actor, reason, count, first_seq, last_seq from discards order by id',
      ),
    };
    this.pageSize = Number(this.db.pragma('page_size', { simple: true }));
  }

  /** Commits one event; throws InvalidEventError, storing nothing, when it breaks the protocol's schema. */
  enqueue(event: AgentEvent): void {
    if (!tapValidator.check(event)) throw new InvalidEventError(`event ${String((event as { id?: unknown }).id)}: ${tapValidator.explain(event)}`);
    this.statements.insert.run(event.id, JSON.stringify(event), this.now());
  }

  /** Commits many events in one transaction: all of them, or none when one is invalid. */
  enqueueMany(events: readonly AgentEvent[]): void {
    this.db.transaction(() => {
      for (const event of events) this.enqueue(event);
    })();
  }

  /**
   * Commits a tap, unless the same subject was accepted from the same device
   * within `debounceMs` (0: no debounce). The debounce state is stored with
   * the event, in one transaction, so a scanner that resends a scan after an
   * agent crash does not produce a second tap.
   */
  recordTap(deviceId: string, tap: DeviceTap, debounceMs: number): TapOutcome {
    return this.db.transaction(() => this.recordTapInTransaction(deviceId, tap, debounceMs))();
  }

  /**
   * Commits the new records of one log read and moves the device's cursor in
   * the same transaction, so the cursor never passes a record that is not stored.
   */
  recordLogRead(deviceId: string, taps: readonly DeviceTap[], cursor: LogCursor): number {
    return this.db.transaction(() => {
      let recorded = 0;
      for (const tap of taps) if (this.recordTapInTransaction(deviceId, tap, 0).recorded) recorded++;
      this.statements.saveCursor.run(deviceId, cursor.serial, cursor.epoch, cursor.position, cursor.lastHash, this.now());
      return recorded;
    })();
  }

  logCursor(deviceId: string): LogCursor | null {
    const row = this.statements.cursor.get(deviceId);
    return row ? { serial: row.serial, epoch: row.epoch, position: row.position, lastHash: row.last_hash } : null;
  }

  /** After the device's log was cleared: a new epoch from position 0, and its record keys, which cannot come back, are forgotten. */
  startLogEpoch(deviceId: string, serial: string | null): LogCursor {
    return this.db.transaction(() => {
      const cursor: LogCursor = { serial, epoch: (this.logCursor(deviceId)?.epoch ?? 0) + 1, position: 0, lastHash: null };
      this.statements.saveCursor.run(deviceId, serial, cursor.epoch, 0, null, this.now());
      this.statements.forgetKeys.run(deviceId);
      return cursor;
    })();
  }

  /**
   * Notes that every event of the device up to `upTo` (ms) is committed by
   * now: it becomes the device's watermark once every row up to the current
   * end of the outbox has been acknowledged.
   */
  noteWatermarkCandidate(deviceId: string, upTo: number): void {
    this.statements.setCandidate.run(deviceId, upTo, this.statements.maxSeq.get()!.seq ?? 0);
  }

  /** Promotes candidates whose rows have all left the outbox and returns every device's delivered watermark. */
  watermarks(): Watermark[] {
    const oldest = this.statements.minSeq.get()!.seq;
    this.statements.promoteWatermarks.run(oldest ?? Number.MAX_SAFE_INTEGER);
    return this.statements.watermarks.all().map((row) => ({ deviceId: row.device_id, deliveredUpTo: row.delivered_up_to }));
  }

  /** Bytes the outbox's pages hold now; freed pages are reused, so this falls as events drain, unlike the file size. */
  usedBytes(): number {
    return (this.statements.pageCount.get()!.page_count - this.statements.freePages.get()!.freelist_count) * this.pageSize;
  }

  /**
   * The operator's explicit command to delete undelivered events (those with
   * seq in [fromSeq, toSeq]), recorded with who and why in the same transaction.
   */
  discardUndelivered(range: { fromSeq: number; toSeq: number }, actor: string, reason: string): number {
    if (!actor.trim() || !reason.trim()) throw new Error('discarding undelivered events needs an actor and a reason');
    return this.db.transaction(() => {
      const found = this.statements.undelivered.get(range.fromSeq, range.toSeq)!;
      this.statements.deleteRange.run(range.fromSeq, range.toSeq);
      this.statements.recordDiscard.run(this.now(), actor, reason, found.n, found.first, found.last);
      return found.n;
    })();
  }

  discards(): { at: string; actor: string; reason: string; count: number; firstSeq: number | null; lastSeq: number | null }[] {
    return this.statements.discards.all().map((row) => ({
      at: new Date(row.at).toISOString(),
      actor: row.actor,
      reason: row.reason,
      count: row.count,
      firstSeq: row.first_seq,
      lastSeq: row.last_seq,
    }));
  }

  private recordTapInTransaction(deviceId: string, tap: DeviceTap, debounceMs: number): TapOutcome {
    const now = this.now();
    if (tap.deviceKey !== undefined && this.statements.rememberKey.run(deviceId, tap.deviceKey).changes === 0) {
      return { recorded: false, reason: 'duplicate' };
    }
    if (debounceMs > 0) {
      const last = this.statements.lastScan.get(deviceId, tap.subject);
      if (last && now - last.seen_at < debounceMs) return { recorded: false, reason: 'debounced' };
    }
    const event: AgentEvent = {
      id: uuidv7(now),
      kind: 'tap',
      deviceId,
      method: tap.method,
      subject: tap.subject,
      deviceTime: tap.deviceTime ? tap.deviceTime.toISOString() : null,
      receivedAt: new Date(now).toISOString(),
      ...(tap.deviceKey !== undefined ? { deviceKey: tap.deviceKey } : {}),
      ...(tap.score !== undefined ? { score: tap.score } : {}),
      ...(tap.clockSuspect ? { clockSuspect: true as const } : {}),
    };
    this.enqueue(event);
    if (debounceMs > 0) {
      this.statements.rememberScan.run(deviceId, tap.subject, now);
      this.statements.forgetScans.run(now - debounceMs);
    }
    return { recorded: true, event };
  }

  /** Up to `limit` undelivered events after `seq`, oldest first. */
  after(seq: number, limit: number): OutboxRow[] {
    return this.statements.after.all(seq, limit);
  }

  /** Applies one hub acknowledgement: committed events leave, rejected ones move to quarantine. */
  settle(committed: readonly string[], rejected: readonly Rejection[]): void {
    this.db.transaction(() => {
      const now = this.now();
      for (const { id, reason } of rejected) {
        this.statements.quarantine.run(reason, now, id);
        this.statements.delete.run(id);
      }
      for (const id of committed) this.statements.delete.run(id);
    })();
  }

  /** Quarantines rows this agent cannot send (unreadable body, bad id): they would never be acknowledged. */
  quarantineLocally(rows: readonly { id: string; reason: string }[]): void {
    this.settle([], rows.map(({ id, reason }) => ({ id, reason: `agent: ${reason}` })));
  }

  stats(): { depth: number; oldestAgeMs: number | null; quarantined: number } {
    const { depth, oldest } = this.statements.depth.get()!;
    return { depth, oldestAgeMs: oldest === null ? null : Math.max(0, this.now() - oldest), quarantined: this.statements.quarantineCount.get()!.n };
  }

  listQuarantine(limit: number): QuarantinedEvent[] {
    return this.statements.quarantineList.all(limit).map((row) => ({
      id: row.id,
      reason: row.reason,
      quarantinedAt: new Date(row.quarantined_at).toISOString(),
      body: row.body,
    }));
  }

  /** Moves quarantined events back to the outbox, to be delivered again. Returns how many moved. */
  releaseQuarantined(ids: readonly string[]): number {
    return this.db.transaction(() => {
      let moved = 0;
      for (const id of ids) {
        if (this.statements.release.run(this.now(), id).changes === 1) {
          this.statements.unquarantine.run(id);
          moved++;
        }
      }
      return moved;
    })();
  }

  /** Deletes quarantined events for good. Returns how many were deleted. */
  purgeQuarantined(ids: readonly string[]): number {
    return this.db.transaction(() => ids.reduce((purged, id) => purged + this.statements.unquarantine.run(id).changes, 0))();
  }

  /** The durability settings in force, as SQLite reports them. */
  durability(): { journalMode: string; synchronous: 'off' | 'normal' | 'full' | 'extra' } {
    const levels = ['off', 'normal', 'full', 'extra'] as const;
    return {
      journalMode: String(this.db.pragma('journal_mode', { simple: true })),
      synchronous: levels[Number(this.db.pragma('synchronous', { simple: true }))]!,
    };
  }

  integrityCheck(): string {
    return String(this.db.pragma('integrity_check', { simple: true }));
  }

  close(): void {
    this.db.close();
  }
}

/** Parses an outbox row into the event it carries, or says why it cannot be sent. */
export function readOutboxRow(row: OutboxRow): { ok: true; event: Record<string, unknown> } | { ok: false; reason: string } {
  if (!isUuid(row.id)) return { ok: false, reason: `outbox row ${row.seq} has an invalid event id` };
  let event: unknown;
  try {
    event = JSON.parse(row.body);
  } catch {
    return { ok: false, reason: `outbox row ${row.seq} holds unreadable JSON` };
  }
  if (typeof event !== 'object' || event === null || Array.isArray(event)) return { ok: false, reason: `outbox row ${row.seq} holds no event object` };
  // The row's id is authoritative, so the hub's answer always names this row.
  return { ok: true, event: { ...event, id: row.id } };
}
