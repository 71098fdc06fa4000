/**
 * ingest: events per second from a full agent outbox to rows committed at the
 * hub, through the embedded broker, on PGlite and on Postgres, and on until
 * the matcher has written them all to the attendance ledger; and in the same run the raw limit, multi-row INSERTs of the
 * same events straight into the events table, with the ratio between the two.
 *
 * The taps are a class change on a generated campus of --students students:
 * each student on the roll of the busiest slot taps once at their room's door.
 *
 *   npm run bench -- ingest [--students 50000] [--backends pglite,postgres] [--raw-batch 1000]
 *
 * Postgres is BENCH_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres.
 * The agent runs in its own process, as in production; the hub in this one.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Outbox } from '../agent/outbox/outbox.js';
import { insertEvents } from '../hub/ingest/queries.js';
import type { EventRow } from '../hub/ingest/steps.js';
import { uuidv7, type TapEvent } from '../protocol/index.js';
import { generateCampus, importFiles } from '../fixtures/generate.js';
import { loadGeneratedFiles } from '../cli/start/fixtures.js';
import { spawnCampushub } from '../test/support/processes.js';
import { busiestSlot, openClassChangeSessions, planTaps, type PlannedTap } from './campus.js';
import { DEFAULT_POSTGRES, postgresReachable, startBenchHub } from './benchHub.js';
import { histogramMean, round } from './report.js';

function tapEvents(planned: readonly PlannedTap[]): TapEvent[] {
  const start = Date.now();
  return planned.map((tap, index) => ({
    id: uuidv7(start + index),
    kind: 'tap',
    deviceId: tap.deviceId,
    method: 'qr',
    subject: tap.code,
    deviceTime: null,
    receivedAt: new Date(start + index).toISOString(),
  }));
}

async function measureBackend(backend: 'pglite' | 'postgres', students: number, rawBatch: number) {
  const { hub, close } = await startBenchHub(backend);
  const agentDir = mkdtempSync(join(tmpdir(), 'campushub-bench-agent-'));
  try {
    process.stderr.write(`[${backend}] loading a generated campus of ${students} students\n`);
    await loadGeneratedFiles(hub.db, importFiles(generateCampus({ students, seed: 7 })), { actor: 'bench', source: 'cli' });
    await openClassChangeSessions(hub, await busiestSlot(hub), new Date(Date.now() + 10 * 60_000));
    const taps = tapEvents(await planTaps(hub, 0, 7));
    const events = taps.length;
    process.stderr.write(`[${backend}] filling the outbox with ${events} taps\n`);
    const outbox = new Outbox(agentDir);
    for (let offset = 0; offset < events; offset += 10_000) outbox.enqueueMany(taps.slice(offset, offset + 10_000));
    outbox.close();

    const committed = async () => (await hub.metrics.ingestEvents.get()).values.find((value) => value.labels.result === 'committed')?.value ?? 0;
    process.stderr.write(`[${backend}] draining through agent → MQTT → hub\n`);
    const agent = spawnCampushub(['agent', '--agent-id', 'bench', '--campus-id', 'main', '--mqtt-url', hub.mqttUrl, '--data-dir', agentDir], { LOG_LEVEL: 'warn' });
    await agent.ready;
    const started = performance.now();
    let firstCommitAt: number | undefined;
    for (;;) {
      const done = await committed();
      if (done > 0 && firstCommitAt === undefined) firstCommitAt = performance.now();
      if (done >= events) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const endToEndSeconds = (performance.now() - started) / 1000;
    const steadySeconds = (performance.now() - (firstCommitAt ?? started)) / 1000;
    for (;;) {
      await hub.matcher.idle();
      const queued = await hub.db.query<{ n: number }>('select count(*)::int as n from match_queue');
      if (queued.rows[0]!.n === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const matchedSeconds = (performance.now() - started) / 1000;
    await agent.stop();

    process.stderr.write(`[${backend}] raw multi-row INSERTs of ${rawBatch} rows\n`);
    const rows: EventRow[] = tapEvents(await planTaps(hub, 0, 7)).map((tap) => ({
      ...tap,
      campusId: 'main',
      agentId: 'bench',
      deviceKey: null,
      score: null,
    }));
    const rawStarted = performance.now();
    for (let offset = 0; offset < rows.length; offset += rawBatch) {
      const slice = rows.slice(offset, offset + rawBatch);
      await hub.db.transaction((tx) => insertEvents(tx, slice));
    }
    const rawSeconds = (performance.now() - rawStarted) / 1000;
    const endToEndPerSecond = events / endToEndSeconds;
    const rawPerSecond = events / rawSeconds;
    const ledger = await hub.db.query<{ n: number }>(`select count(*)::int as n from attendance_events where source = 'qr'`);
    const unmatched = await hub.db.query<{ reason: string; n: number }>('select reason, count(*)::int as n from unmatched_taps group by reason');
    return {
      backend,
      events,
      matched: ledger.rows[0]!.n,
      unmatched: Object.fromEntries(unmatched.rows.map((row) => [row.reason, row.n])),
      endToEnd: { seconds: round(endToEndSeconds), eventsPerSecond: Math.round(endToEndPerSecond), fromFirstCommitEventsPerSecond: Math.round(events / steadySeconds) },
      matchedEndToEnd: { seconds: round(matchedSeconds), eventsPerSecond: Math.round(events / matchedSeconds) },
      rawInsert: { rowsPerStatement: rawBatch, seconds: round(rawSeconds), eventsPerSecond: Math.round(rawPerSecond) },
      ratio: round(endToEndPerSecond / rawPerSecond),
      matchedRatio: round(events / matchedSeconds / rawPerSecond),
      hubMatchBatchSeconds: round(await histogramMean(hub, 'campushub_match_batch_seconds')),
      hubWriteRows: Math.round(await histogramMean(hub, 'campushub_ingest_write_rows')),
    };
  } finally {
    await close();
    rmSync(agentDir, { recursive: true, force: true });
  }
}

export async function run(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      students: { type: 'string', default: '50000' },
      backends: { type: 'string', default: 'pglite,postgres' },
      'raw-batch': { type: 'string', default: '1000' },
    },
  });
  const students = Number(values.students);
  const rawBatch = Number(values['raw-batch']);
  const results = [];
  for (const backend of values.backends!.split(',') as ('pglite' | 'postgres')[]) {
    if (backend === 'postgres' && !(await postgresReachable(process.env.BENCH_DATABASE_URL ?? DEFAULT_POSTGRES))) {
      results.push({ backend, skipped: 'no Postgres reachable; set BENCH_DATABASE_URL' });
      continue;
    }
    results.push(await measureBackend(backend, students, rawBatch));
  }
  return { benchmark: 'ingest', node: process.version, cpus: (await import('node:os')).availableParallelism(), results, target: 'endToEnd.eventsPerSecond ≥ 0.5 × rawInsert.eventsPerSecond per backend' };
}
