/**
 * audit: what the audit log costs.
 *
 * 1. `writers`: audit entries committed per second by --writers concurrent
 *    writers, each committing one entry per transaction (as a request does),
 *    while the sealer chains them; and how long after the last commit the
 *    chain has them all.
 * 2. `tapToRecord`: the ingest write transaction (store the taps, match them,
 *    write the ledger) on a generated campus's class change, in batches of
 *    --batch taps, interleaving batches written without an audit entry, with
 *    the one entry per batch the hub writes, and with one entry per tap (what
 *    it would cost not to batch), each on a third of the students.
 *
 *   npm run bench -- audit [--writers 8] [--entries 20000] [--students 20000] [--batch 100] [--backends pglite,postgres]
 */
import { parseArgs } from 'node:util';
import pino from 'pino';
import { appendAudit, appendIngestAudit } from '../hub/audit/append.js';
import { startAuditSealer } from '../hub/audit/sealer.js';
import { hubDefaults } from '../hub/config.js';
import type { Db } from '../hub/db/db.js';
import { matchTaps } from '../hub/ingest/match.js';
import { insertEvents } from '../hub/ingest/queries.js';
import type { EventRow } from '../hub/ingest/steps.js';
import { uuidv7 } from '../protocol/index.js';
import { generateCampus, importFiles } from '../fixtures/generate.js';
import { loadGeneratedFiles } from '../cli/start/fixtures.js';
import { createTestDatabase } from '../test/support/database.js';
import { busiestSlot, openClassChangeSessions, planTaps } from './campus.js';
import { DEFAULT_POSTGRES, postgresReachable, startBenchHub } from './benchHub.js';
import { round } from './report.js';

type Backend = 'pglite' | 'postgres';
const MODES = ['none', 'perBatch', 'perTap'] as const;
type Mode = (typeof MODES)[number];

const databaseFor = (backend: Backend) => createTestDatabase(backend === 'postgres' ? (process.env.BENCH_DATABASE_URL ?? DEFAULT_POSTGRES) : '');

async function measureWriters(backend: Backend, writers: number, entries: number) {
  const database = await databaseFor(backend);
  const db = await database.open();
  const sealer = startAuditSealer({ db, logger: pino({ level: 'silent' }) });
  try {
    const perWriter = Math.ceil(entries / writers);
    process.stderr.write(`[${backend}] ${writers} writers × ${perWriter} audited transactions\n`);
    const started = performance.now();
    await Promise.all(
      Array.from({ length: writers }, async (_, writer) => {
        for (let index = 0; index < perWriter; index++) {
          await db.transaction((tx) =>
            appendAudit(tx, { actor: `user:${writer}`, source: 'http', action: 'records.mark', target: `session:${index}`, after: { studentId: `${writer}-${index}`, status: 'present' } }),
          );
        }
      }),
    );
    const writeSeconds = (performance.now() - started) / 1000;
    const sealStarted = performance.now();
    await sealer.sealNow();
    const sealLagMs = performance.now() - sealStarted;
    const { rows } = await db.query<{ n: number }>('select count(seq)::int as n from audit_log');
    return { writers, entries: writers * perWriter, seconds: round(writeSeconds), entriesPerSecond: Math.round((writers * perWriter) / writeSeconds), sealed: rows[0]!.n, sealLagAfterLastCommitMs: Math.round(sealLagMs) };
  } finally {
    await sealer.stop();
    await db.close();
    await database.drop();
  }
}

/** One ingest write: the taps, their matching and ledger events, and the audit as `mode` says. */
async function writeBatch(db: Db, rows: EventRow[], mode: Mode, now: number): Promise<void> {
  await db.transaction(async (tx) => {
    const inserted = await insertEvents(tx, rows);
    await matchTaps(tx, inserted, hubDefaults().attendance, now);
    if (mode === 'perBatch') await appendIngestAudit(tx, rows, inserted.length);
    if (mode === 'perTap') {
      for (const row of rows) await appendAudit(tx, { actor: 'system:ingest', source: 'mqtt', action: 'ingest.tap', target: `event:${row.id}`, after: { deviceId: row.deviceId } });
    }
  });
}

async function measureTapToRecord(backend: Backend, students: number, batch: number) {
  const { hub, close } = await startBenchHub(backend);
  try {
    process.stderr.write(`[${backend}] loading a generated campus of ${students} students\n`);
    await loadGeneratedFiles(hub.db, importFiles(generateCampus({ students, seed: 7 })), { actor: 'bench', source: 'cli' });
    await openClassChangeSessions(hub, await busiestSlot(hub), new Date(Date.now() + 10 * 60_000));
    const planned = await planTaps(hub, 0, 7);
    const start = Date.now();
    const rows: EventRow[] = planned.map((tap, index) => ({
      id: uuidv7(start + index),
      campusId: 'main',
      agentId: 'bench',
      deviceId: tap.deviceId,
      kind: 'tap',
      method: 'qr',
      subject: tap.code,
      deviceTime: null,
      receivedAt: new Date(start + index).toISOString(),
      deviceKey: null,
      score: null,
    }));
    // Each mode gets every third batch, so that all three meet the same load and the same state of the tables.
    const batches = Array.from({ length: Math.ceil(rows.length / batch) }, (_, index) => rows.slice(index * batch, (index + 1) * batch));
    const seconds: Record<Mode, number> = { none: 0, perBatch: 0, perTap: 0 };
    const taps: Record<Mode, number> = { none: 0, perBatch: 0, perTap: 0 };
    process.stderr.write(`[${backend}] ${rows.length} taps in ${batches.length} write transactions of ${batch}\n`);
    for (const [index, slice] of batches.entries()) {
      const mode = MODES[index % MODES.length]!;
      const started = performance.now();
      await writeBatch(hub.db, slice, mode, Date.now());
      seconds[mode] += (performance.now() - started) / 1000;
      taps[mode] += slice.length;
    }
    const ledger = await hub.db.query<{ n: number }>(`select count(*)::int as n from attendance_events where source = 'qr'`);
    const rate = (mode: Mode) => taps[mode] / seconds[mode];
    return {
      taps: rows.length,
      recorded: ledger.rows[0]!.n,
      batch,
      tapsPerSecond: { withoutAudit: Math.round(rate('none')), auditPerBatch: Math.round(rate('perBatch')), auditPerTap: Math.round(rate('perTap')) },
      costOfAuditPercent: { perBatch: round(100 * (1 - rate('perBatch') / rate('none'))), perTap: round(100 * (1 - rate('perTap') / rate('none'))) },
    };
  } finally {
    await close();
  }
}

export async function run(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      writers: { type: 'string', default: '8' },
      entries: { type: 'string', default: '20000' },
      students: { type: 'string', default: '20000' },
      batch: { type: 'string', default: '100' },
      backends: { type: 'string', default: 'pglite,postgres' },
    },
  });
  const results = [];
  for (const backend of values.backends!.split(',') as Backend[]) {
    if (backend === 'postgres' && !(await postgresReachable(process.env.BENCH_DATABASE_URL ?? DEFAULT_POSTGRES))) {
      results.push({ backend, skipped: 'no Postgres reachable; set BENCH_DATABASE_URL' });
      continue;
    }
    results.push({
      backend,
      writers: await measureWriters(backend, Number(values.writers), Number(values.entries)),
      tapToRecord: await measureTapToRecord(backend, Number(values.students), Number(values.batch)),
    });
  }
  return { benchmark: 'audit', node: process.version, cpus: (await import('node:os')).availableParallelism(), results };
}
