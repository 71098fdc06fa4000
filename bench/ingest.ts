/**
 * ingest: events per second from a full agent outbox to rows committed at the
 * hub, through the embedded broker, on PGlite and on Postgres; and in the same
 * run the raw limit, multi-row INSERTs of the same events straight into the
 * same table, with the ratio between the two.
 *
 *   npm run bench -- ingest [--events 50000] [--backends pglite,postgres] [--raw-batch 1000]
 *
 * Postgres is BENCH_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres.
 * The agent runs in its own process, as in production; the hub in this one.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { Outbox } from '../agent/outbox/outbox.js';
import { startHub } from '../hub/app.js';
import { hubDefaults } from '../hub/config.js';
import { insertEvents } from '../hub/ingest/queries.js';
import type { EventRow } from '../hub/ingest/steps.js';
import { uuidv7, type TapEvent } from '../protocol/index.js';
import { createTestDatabase } from '../test/support/database.js';
import { spawnCampushub } from '../test/support/processes.js';
import { round } from './report.js';

const DEFAULT_POSTGRES = 'postgres://postgres@127.0.0.1:5432/postgres';

function makeTaps(count: number): TapEvent[] {
  const start = Date.now();
  return Array.from({ length: count }, (_, index) => ({
    id: uuidv7(start + index),
    kind: 'tap',
    deviceId: `door-${index % 40}`,
    method: 'qr',
    subject: `2025CS${String(index % 20000).padStart(5, '0')}`,
    deviceTime: null,
    receivedAt: new Date(start + index).toISOString(),
  }));
}

async function postgresReachable(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false;
  }
}

/** A throwaway key file: the hub seals its own secrets even in a benchmark. */
function benchKeyFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'campushub-bench-keys-'));
  const file = join(dir, 'keys.json');
  writeFileSync(file, JSON.stringify({ active: 'k1', keys: { k1: randomBytes(32).toString('base64') } }), { mode: 0o600 });
  return file;
}

async function measureBackend(backend: 'pglite' | 'postgres', events: number, rawBatch: number) {
  const database = await createTestDatabase(backend === 'postgres' ? (process.env.BENCH_DATABASE_URL ?? DEFAULT_POSTGRES) : '');
  const defaults = hubDefaults();
  const hub = await startHub({
    ...defaults,
    http: { ...defaults.http, host: '127.0.0.1', port: 0 },
    broker: { ...defaults.broker, port: 0 },
    database: { url: database.options.databaseUrl, dataDir: database.options.dataDir },
    keys: { keyFile: benchKeyFile() },
    logLevel: 'silent',
  });
  const agentDir = mkdtempSync(join(tmpdir(), 'campushub-bench-agent-'));
  try {
    process.stderr.write(`[${backend}] filling the outbox with ${events} events\n`);
    const outbox = new Outbox(agentDir);
    for (let offset = 0; offset < events; offset += 10_000) outbox.enqueueMany(makeTaps(Math.min(10_000, events - offset)));
    outbox.close();

    const committed = async () => (await hub.metrics.ingestEvents.get()).values.find((value) => value.labels.result === 'committed')?.value ?? 0;
    process.stderr.write(`[${backend}] draining through agent → MQTT → hub\n`);
    const agent = spawnCampushub(['agent', '--agent-id', 'bench', '--campus-id', 'bench', '--mqtt-url', hub.mqttUrl, '--data-dir', agentDir], { LOG_LEVEL: 'warn' });
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
    await agent.stop();

    process.stderr.write(`[${backend}] raw multi-row INSERTs of ${rawBatch} rows\n`);
    const rows: EventRow[] = makeTaps(events).map((tap) => ({
      ...tap,
      campusId: 'bench',
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
    return {
      backend,
      events,
      endToEnd: { seconds: round(endToEndSeconds), eventsPerSecond: Math.round(endToEndPerSecond), fromFirstCommitEventsPerSecond: Math.round(events / steadySeconds) },
      rawInsert: { rowsPerStatement: rawBatch, seconds: round(rawSeconds), eventsPerSecond: Math.round(rawPerSecond) },
      ratio: round(endToEndPerSecond / rawPerSecond),
      hubWriteRows: await histogramMean(hub, 'campushub_ingest_write_rows'),
    };
  } finally {
    await hub.stop();
    await database.drop();
    rmSync(agentDir, { recursive: true, force: true });
  }
}

async function histogramMean(hub: Awaited<ReturnType<typeof startHub>>, name: string): Promise<number> {
  const metric = await hub.metrics.registry.getSingleMetric(name)?.get();
  const values = (metric?.values ?? []) as { metricName?: string; value: number }[];
  const sum = values.find((value) => value.metricName === `${name}_sum`)?.value ?? 0;
  const count = values.find((value) => value.metricName === `${name}_count`)?.value ?? 0;
  return count === 0 ? 0 : Math.round(sum / count);
}

export async function run(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      events: { type: 'string', default: '50000' },
      backends: { type: 'string', default: 'pglite,postgres' },
      'raw-batch': { type: 'string', default: '1000' },
    },
  });
  const events = Number(values.events);
  const rawBatch = Number(values['raw-batch']);
  const results = [];
  for (const backend of values.backends!.split(',') as ('pglite' | 'postgres')[]) {
    if (backend === 'postgres' && !(await postgresReachable(process.env.BENCH_DATABASE_URL ?? DEFAULT_POSTGRES))) {
      results.push({ backend, skipped: 'no Postgres reachable; set BENCH_DATABASE_URL' });
      continue;
    }
    results.push(await measureBackend(backend, events, rawBatch));
  }
  return { benchmark: 'ingest', node: process.version, cpus: (await import('node:os')).availableParallelism(), results, target: 'endToEnd.eventsPerSecond ≥ 0.5 × rawInsert.eventsPerSecond per backend' };
}
