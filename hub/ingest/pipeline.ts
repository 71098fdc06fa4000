import type { Logger } from 'pino';
import { PROTOCOL_VERSION, type Ack, type AgentAddress } from '../../protocol/index.js';
import type { Db, Transaction } from '../db/db.js';
import type { HubMetrics } from '../metrics/metrics.js';
import { queueForMatching } from './matcher.js';
import { appendIngestAudit } from '../audit/append.js';
import { insertEvents } from './queries.js';
import { decodeBatch, dedupeRows, validateEvents, type CheckedBatch, type EventRow } from './steps.js';

export interface IngestOptions {
  db: Db;
  metrics: HubMetrics;
  logger: Logger;
  /** Step 5: publishes the acknowledgement of one batch, after its rows committed. */
  sendAck(address: AgentAddress, ack: Ack): Promise<void>;
  maxRowsPerWrite: number;
  maxMessageBytes: number;
  /** Called after a write committed new taps, which wait in the match queue. */
  onTapsQueued(): void;
  now?: () => Date;
}

export interface Ingest {
  /** Takes one message from an agent's `events` channel. Never throws: bad input is counted and logged. */
  handleEventsMessage(address: AgentAddress, payload: Buffer): void;
  /** Resolves when every queued batch has been written and acknowledged (or has failed). */
  idle(): Promise<void>;
  /**
   * Whether ingest is taking a backlog: batches wait behind the write in
   * progress, or the last second committed at least `rowsPerSecond` rows.
   * Taps arriving as they happen, even a whole class change, stay far below.
   */
  receivingBacklog(rowsPerSecond: number): boolean;
}

/**
 * decode → validate → dedupe → persist → ack, and new taps queued for the
 * matcher (matcher.ts) in the persisting transaction. Batches that arrive while a
 * write is in progress wait and are then written together in one
 * transaction (group commit), so a busy hub writes fewer, larger transactions
 * without any timer.
 */
export function createIngest(options: IngestOptions): Ingest {
  const { db, metrics, sendAck, maxRowsPerWrite, maxMessageBytes, onTapsQueued } = options;
  const now = options.now ?? (() => new Date());
  const log = options.logger.child({ ns: 'hub:ingest' });
  const queue: CheckedBatch[] = [];
  let writing: Promise<void> | null = null;
  /** Rows of the writes of about the last second, for `receivingBacklog`. */
  const recentWrites: { at: number; rows: number }[] = [];

  function handleEventsMessage(address: AgentAddress, payload: Buffer): void {
    const decoded = decodeBatch(payload, maxMessageBytes);
    if (!decoded.ok) {
      metrics.rejectedMessages.inc({ reason: decoded.error.code });
      log.warn({ ...address, reason: decoded.error.code, detail: decoded.error.message, bytes: payload.length }, 'refused an events message');
      return;
    }
    const checked = validateEvents(address, decoded.batch);
    if (checked.unidentified > 0) {
      metrics.rejectedMessages.inc({ reason: 'unidentified_event' }, checked.unidentified);
      log.warn({ ...address, batchId: checked.batchId, count: checked.unidentified }, 'events without a valid id cannot be acknowledged');
    }
    for (const rejection of checked.rejected) log.warn({ ...address, batchId: checked.batchId, eventId: rejection.id, reason: rejection.reason }, 'rejected an event');
    metrics.ingestEvents.inc({ result: 'rejected' }, checked.rejected.length);
    metrics.ingestBatchSize.observe(decoded.batch.events.length);
    queue.push(checked);
    if (!writing) writing = writeQueued();
  }

  function takeWriteGroup(): CheckedBatch[] {
    const group: CheckedBatch[] = [];
    let rows = 0;
    while (queue.length > 0 && (group.length === 0 || rows + queue[0]!.rows.length <= maxRowsPerWrite)) {
      const batch = queue.shift()!;
      rows += batch.rows.length;
      group.push(batch);
    }
    return group;
  }

  async function writeQueued(): Promise<void> {
    while (queue.length > 0) {
      const group = takeWriteGroup();
      const rows = dedupeRows(group);
      try {
        const inserted = rows.length > 0 ? await db.transaction((tx) => storeAndQueue(tx, rows)) : [];
        recordCommit(rows, inserted);
        recentWrites.push({ at: performance.now(), rows: rows.length });
        if (inserted.length > 0) onTapsQueued();
      } catch (error) {
        // Unacknowledged batches are redelivered by their agents, so nothing is lost here.
        metrics.ingestFailures.inc();
        log.error({ err: (error as Error).message, batches: group.length, rows: rows.length }, 'ingest write failed; batches left unacknowledged');
        continue;
      }
      await Promise.all(group.map((batch) => acknowledge(batch)));
    }
    writing = null;
  }

  /** Step 4: a new tap is stored together with its place in the match queue, so no committed tap goes unmatched. */
  async function storeAndQueue(tx: Transaction, rows: readonly EventRow[]): Promise<string[]> {
    const inserted = await insertEvents(tx, rows);
    const isNew = new Set(inserted);
    await queueForMatching(tx, rows.filter((row) => row.kind === 'tap' && isNew.has(row.id)).map((row) => row.id));
    // Audit: one entry per committed write (docs/audit.md), in its transaction.
    if (inserted.length > 0) await appendIngestAudit(tx, rows, inserted.length);
    return inserted;
  }

  function recordCommit(rows: readonly EventRow[], insertedIds: readonly string[]): void {
    metrics.ingestWriteRows.observe(rows.length);
    metrics.ingestEvents.inc({ result: 'committed' }, insertedIds.length);
    metrics.ingestEvents.inc({ result: 'duplicate' }, rows.length - insertedIds.length);
    const inserted = new Set(insertedIds);
    const committedAt = now().getTime();
    for (const row of rows) {
      if (inserted.has(row.id)) metrics.ingestLag.observe(Math.max(0, committedAt - Date.parse(row.receivedAt)) / 1000);
    }
  }

  async function acknowledge(batch: CheckedBatch): Promise<void> {
    const ack: Ack = {
      v: PROTOCOL_VERSION,
      batchId: batch.batchId,
      committed: batch.rows.map((row) => row.id),
      rejected: batch.rejected,
      hubTime: now().toISOString(),
    };
    try {
      await sendAck(batch.address, ack);
      metrics.ingestBatches.inc();
    } catch (error) {
      log.warn({ ...batch.address, batchId: batch.batchId, err: (error as Error).message }, 'could not publish an ack; the agent will redeliver');
    }
  }

  return {
    handleEventsMessage,
    async idle() {
      while (writing) await writing;
    },
    receivingBacklog(rowsPerSecond) {
      if (queue.length > 0) return true;
      const since = performance.now() - 1000;
      while (recentWrites.length > 0 && recentWrites[0]!.at < since) recentWrites.shift();
      return recentWrites.reduce((sum, write) => sum + write.rows, 0) >= rowsPerSecond;
    },
  };
}
