/**
 * class-change: a generated campus, and every student walking into their
 * next class. Each student with a class at the busiest slot of the week
 * scans their code at the door of that class's room, spread over the
 * window before the bell; the taps go through simulated QR readers (TCP),
 * campus agent processes (QR driver, SQLite outbox), MQTT and the hub's
 * ingest and matcher, which match each one to its session and write the ledger.
 *
 *   npm run bench -- class-change [--students 20000] [--seed 7] [--window-seconds 300]
 *                                 [--agents 4] [--backends postgres,pglite]
 *
 * Reports per backend: taps matched and recorded per second (over the window,
 * so paced by the taps' arrival, and, with --window-seconds 0, as fast as the
 * pipeline goes), latency from the agent receiving a tap to the hub writing
 * its ledger event (p50, p99, max: the ledger event's recorded time is taken
 * in the matcher's transaction, which then commits; `matchTransactionMs` is
 * that transaction's mean duration), and what was left unmatched, by reason.
 * Postgres is BENCH_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateCampus, importFiles } from '../fixtures/generate.js';
import { startQrScannerSimulator, type QrScannerSimulator } from '../simulators/qr/scanner.js';
import { spawnCampushub, type CampushubProcess } from '../test/support/processes.js';
import { loadGeneratedFiles } from '../cli/start/fixtures.js';
import { busiestSlot, openClassChangeSessions, planTaps } from './campus.js';
import { DEFAULT_POSTGRES, postgresReachable, startBenchHub } from './benchHub.js';
import { histogramMean, round } from './report.js';

async function measure(backend: 'pglite' | 'postgres', options: { students: number; seed: number; windowMs: number; agents: number }) {
  const { hub, close } = await startBenchHub(backend);
  const scanners: QrScannerSimulator[] = [];
  const agents: CampushubProcess[] = [];
  const agentDirs: string[] = [];
  try {
    process.stderr.write(`[${backend}] generating and importing a campus of ${options.students} students\n`);
    const importStarted = performance.now();
    await loadGeneratedFiles(hub.db, importFiles(generateCampus({ students: options.students, seed: options.seed })), { actor: 'bench', source: 'cli' });
    const importSeconds = (performance.now() - importStarted) / 1000;
    const slot = await busiestSlot(hub);
    const bell = new Date(Date.now() + options.windowMs + 30_000);
    const sessions = await openClassChangeSessions(hub, slot, bell);
    const taps = await planTaps(hub, options.windowMs, options.seed);
    const doors = [...new Set(taps.map((tap) => tap.deviceId))];
    process.stderr.write(`[${backend}] ${taps.length} taps at ${doors.length} doors into ${sessions} sessions, through ${options.agents} agents\n`);

    const scannerOf = new Map<string, QrScannerSimulator>();
    const devicesOfAgent: string[][] = Array.from({ length: options.agents }, () => []);
    for (const [index, door] of doors.entries()) {
      const scanner = await startQrScannerSimulator({ listen: { host: '127.0.0.1', port: 0 }, ackMode: true });
      scanners.push(scanner);
      scannerOf.set(door, scanner);
      devicesOfAgent[index % options.agents]!.push(`qr:${door}=tcp://127.0.0.1:${scanner.address().port}?ack=1`);
    }
    for (const [index, devices] of devicesOfAgent.entries()) {
      if (devices.length === 0) continue;
      const dataDir = mkdtempSync(join(tmpdir(), 'campushub-bench-agent-'));
      agentDirs.push(dataDir);
      const args = ['agent', '--agent-id', `gate-${index}`, '--campus-id', 'main', '--mqtt-url', hub.mqttUrl, '--data-dir', dataDir];
      for (const device of devices) args.push('--device', device);
      const agent = spawnCampushub(args, { LOG_LEVEL: 'warn' });
      agents.push(agent);
    }
    await Promise.all(agents.map((agent) => agent.ready));

    process.stderr.write(`[${backend}] tapping over ${options.windowMs / 1000} s\n`);
    const started = performance.now();
    let next = 0;
    while (next < taps.length) {
      const elapsed = performance.now() - started;
      while (next < taps.length && taps[next]!.offsetMs <= elapsed) {
        const tap = taps[next++]!;
        scannerOf.get(tap.deviceId)!.scan(tap.code);
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const recorded = async () => Number((await hub.db.query<{ n: number }>(`select count(*)::int as n from attendance_events where source = 'qr'`)).rows[0]!.n);
    const unmatchedCount = async () => Number((await hub.db.query<{ n: number }>('select count(*)::int as n from unmatched_taps')).rows[0]!.n);
    const deadline = performance.now() + 180_000;
    while ((await recorded()) + (await unmatchedCount()) < taps.length && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));

    const { rows: latency } = await hub.db.query<{ p50: number; p99: number; max: number; seconds: number; n: number }>(
      `select percentile_cont(0.5) within group (order by extract(epoch from recorded_at - received_at)) * 1000 as p50,
              percentile_cont(0.99) within group (order by extract(epoch from recorded_at - received_at)) * 1000 as p99,
              max(extract(epoch from recorded_at - received_at)) * 1000 as max,
              extract(epoch from max(recorded_at) - min(received_at)) as seconds,
              count(*)::int as n
         from attendance_events where source = 'qr'`,
    );
    const { rows: unmatched } = await hub.db.query<{ reason: string; n: number }>('select reason, count(*)::int as n from unmatched_taps group by reason order by reason');
    const result = latency[0]!;
    return {
      backend,
      students: options.students,
      importSeconds: round(importSeconds),
      classChange: { weekday: slot.weekday, startsAt: slot.startsAt, sessions, doors: doors.length, agents: agents.length },
      taps: taps.length,
      recorded: result.n,
      unmatched: Object.fromEntries(unmatched.map((row) => [row.reason, row.n])),
      windowSeconds: options.windowMs / 1000,
      recordedPerSecond: result.seconds > 0 ? Math.round(result.n / Number(result.seconds)) : null,
      latencyMs: { p50: round(Number(result.p50)), p99: round(Number(result.p99)), max: round(Number(result.max)) },
      matchTransactionMs: round((await histogramMean(hub, 'campushub_match_batch_seconds')) * 1000),
    };
  } finally {
    await Promise.all(agents.map((agent) => agent.stop()));
    await Promise.all(scanners.map((scanner) => scanner.stop()));
    await close();
    for (const dir of agentDirs) rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      students: { type: 'string', default: '20000' },
      seed: { type: 'string', default: '7' },
      'window-seconds': { type: 'string', default: '300' },
      agents: { type: 'string', default: '4' },
      backends: { type: 'string', default: 'postgres,pglite' },
    },
  });
  const options = { students: Number(values.students), seed: Number(values.seed), windowMs: Number(values['window-seconds']) * 1000, agents: Number(values.agents) };
  const results = [];
  for (const backend of values.backends!.split(',') as ('pglite' | 'postgres')[]) {
    if (backend === 'postgres' && !(await postgresReachable(process.env.BENCH_DATABASE_URL ?? DEFAULT_POSTGRES))) {
      results.push({ backend, skipped: 'no Postgres reachable; set BENCH_DATABASE_URL' });
      continue;
    }
    results.push(await measure(backend, options));
  }
  return { benchmark: 'class-change', node: process.version, cpus: availableParallelism(), results, target: 'latencyMs.p99 < 250 on Postgres; unmatched empty' };
}
