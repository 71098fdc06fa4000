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
`;

const tapValidator = validator(TapEvent);

export type TapOutcome = { recorded: true; event: AgentEvent } | { recorded: false; reason: 'debounced' };

/** What a device reported, before the agent gives it an id and a receipt time. */
export interface DeviceTap {
  method: TapMethod;
  subject: string;
  deviceTime: Date | null;
  deviceKey?: string;
  score?: number;
}

export class Outbox {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly statements;

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
    };
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
    return this.db.transaction((): TapOutcome => {
      const now = this.now();
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
      };
      this.enqueue(event);
      if (debounceMs > 0) {
        this.statements.rememberScan.run(deviceId, tap.subject, now);
        this.statements.forgetScans.run(now - debounceMs);
      }
      return { recorded: true, event };
    })();
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
