import type { Logger } from 'pino';
import type { Db, Queryable } from '../db/db.js';
import type { HubMetrics } from '../metrics/metrics.js';
import { matchTaps, type MatchSettings } from './match.js';

/**
 * Step 6 (match), after the acknowledgement: taps wait in `match_queue` from
 * the transaction that stored them, and the matcher turns them into ledger
 * marks or unmatched reasons in batches of its own. Receipt never waits for
 * matching, so a draining backlog is acknowledged at the speed of the plain
 * insert, while taps that arrive one by one are matched within milliseconds
 * of their commit. Rows are taken with SKIP LOCKED, so two hubs on one
 * database never match the same tap, and a crash leaves them queued.
 */

export interface MatcherOptions {
  db: Db;
  metrics: HubMetrics;
  logger: Logger;
  settings: MatchSettings;
  maxTapsPerMatch: number;
  /**
   * Receipt first: while this says ingest is taking a backlog, the
   * matcher waits between its batches (`maxWaitMs`, or four times the last
   * batch's duration if longer) and then takes a batch of at most
   * `tapsWhileBusy`, so that a draining backlog is acknowledged at nearly the
   * plain insert's speed and live taps are still matched within seconds.
   */
  receiptFirst?: { busy(): boolean; maxWaitMs: number; tapsWhileBusy: number };
  now: () => Date;
  /** Delay before retrying after a failed match transaction. */
  retryMs?: number;
}

export interface Matcher {
  /** Ingest committed new taps: match them. Also picks up what an earlier run left queued. */
  wake(): void;
  /** Resolves when nothing this process knows of is queued and no match is running. */
  idle(): Promise<void>;
  /** Finishes the batch in progress and takes no more. */
  stop(): Promise<void>;
}

/** Queues new taps for matching, in the caller's (ingest's) transaction. */
export async function queueForMatching(tx: Queryable, tapIds: readonly string[]): Promise<void> {
  if (tapIds.length === 0) return;
  await tx.query('insert into match_queue (event_id) select unnest($1::uuid[]) on conflict do nothing', [tapIds]);
}

/** Whether taps from the room's doors still wait to be matched: a session there is not final until they are. */
export async function roomHasQueuedTaps(q: Queryable, campusId: string, roomId: string): Promise<boolean> {
  const { rows } = await q.query(
    `select 1 from match_queue m join events e on e.id = m.event_id
       join room_devices rd on rd.campus_id = e.campus_id and rd.device_id = e.device_id
      where rd.campus_id = $1 and rd.room_id = $2 limit 1`,
    [campusId, roomId],
  );
  return rows.length > 0;
}

/** How often a waiting matcher looks whether ingest is done. */
const BUSY_POLL_MS = 5;
/**
 * While ingest is busy, a match batch is followed by at least this many times
 * its own duration of receipt: on the embedded database, which runs in the
 * hub's thread, a batch stops everything else, so the wait grows with it.
 */
const RECEIPT_PER_MATCH = 4;

export function createMatcher(options: MatcherOptions): Matcher {
  const { db, metrics, settings, maxTapsPerMatch, receiptFirst, now } = options;
  const retryMs = options.retryMs ?? 1000;
  const log = options.logger.child({ ns: 'hub:match' });
  let wanted = false;
  let stopped = false;
  let running: Promise<void> | null = null;
  let retry: NodeJS.Timeout | undefined;

  /** One transaction: take up to `limit` queued taps, match them, dequeue them. Returns how many it took. */
  async function matchQueued(limit: number): Promise<number> {
    return db.transaction(async (tx) => {
      const { rows } = await tx.query<{ eventId: string }>(
        'select event_id as "eventId" from match_queue order by event_id limit $1 for update skip locked',
        [limit],
      );
      if (rows.length === 0) return 0;
      const ids = rows.map((row) => row.eventId);
      const at = now();
      const summary = await matchTaps(tx, ids, settings, at.getTime());
      await tx.query('delete from match_queue where event_id = any($1::uuid[])', [ids]);
      metrics.matchedTaps.inc({ result: 'marked' }, summary.marked);
      for (const [reason, count] of Object.entries(summary.unmatched)) metrics.matchedTaps.inc({ result: reason }, count);
      return ids.length;
    });
  }

  let lastBatchAt = 0;
  let lastBatchMs = 0;

  /** How many taps the next batch may take, after waiting for ingest as `receiptFirst` allows. */
  async function nextBatchSize(): Promise<number> {
    if (!receiptFirst) return maxTapsPerMatch;
    const deadline = lastBatchAt + Math.max(receiptFirst.maxWaitMs, lastBatchMs * RECEIPT_PER_MATCH);
    while (receiptFirst.busy() && performance.now() < deadline && !stopped) await new Promise((resolve) => setTimeout(resolve, BUSY_POLL_MS));
    return receiptFirst.busy() ? Math.min(receiptFirst.tapsWhileBusy, maxTapsPerMatch) : maxTapsPerMatch;
  }

  async function drain(): Promise<void> {
    try {
      while (wanted && !stopped) {
        wanted = false;
        let taken: number;
        let limit: number;
        do {
          limit = await nextBatchSize();
          if (stopped) break;
          const started = performance.now();
          taken = await matchQueued(limit);
          lastBatchAt = performance.now();
          lastBatchMs = lastBatchAt - started;
          if (taken > 0) metrics.matchBatchSeconds.observe(lastBatchMs / 1000);
        } while (taken === limit && !stopped);
      }
    } catch (error) {
      // The taps stay queued: the rolled-back transaction dequeued nothing.
      metrics.matchFailures.inc();
      log.error({ err: (error as Error).message }, 'matching failed; the taps stay queued and are retried');
      if (!stopped) retry = setTimeout(wake, retryMs);
    } finally {
      running = null;
    }
  }

  function wake(): void {
    wanted = true;
    if (!running && !stopped) running = drain();
  }

  return {
    wake,
    async idle() {
      while (running) await running;
    },
    async stop() {
      stopped = true;
      clearTimeout(retry);
      while (running) await running;
    },
  };
}
