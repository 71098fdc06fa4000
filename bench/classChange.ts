/**
 * class-change: a generated campus, and every student walking into their
 * next class. Each student with a class at the busiest slot of the week
 * scans their code at the door of that class's room, spread over the
 * window before the bell; the taps go through simulated QR readers (TCP),
 * campus agent processes (QR driver, SQLite outbox), MQTT and the hub's
 * ingest, which matches each one to its session and writes the ledger.
 *
 *   npm run bench -- class-change [--students 20000] [--seed 7] [--window-seconds 300]
 *                                 [--agents 4] [--backends postgres,pglite]
 *
 * Reports per backend: taps matched and recorded per second (over the window,
 * so paced by the taps' arrival, and, with --window-seconds 0, as fast as the
 * pipeline goes), latency from the agent receiving a tap to the hub writing
 * its ledger event (p50, p99; the write is inside the ingest transaction,
 * which commits right after), and what was left unmatched, by reason.
 * Postgres is BENCH_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createRandom, generateCampus, importFiles } from '../fixtures/generate.js';
import { startHub, type Hub } from '../hub/app.js';
import { hubDefaults } from '../hub/config.js';
import { startQrScannerSimulator, type QrScannerSimulator } from '../simulators/qr/scanner.js';
import { createTestDatabase } from '../test/support/database.js';
import { spawnCampushub, type CampushubProcess } from '../test/support/processes.js';
import { loadGeneratedFiles } from '../cli/start/fixtures.js';
import { round } from './report.js';

const DEFAULT_POSTGRES = 'postgres://postgres@127.0.0.1:5432/postgres';
const CLASS_MINUTES = 50;

interface Tap {
  code: string;
  deviceId: string;
  offsetMs: number;
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

function keyFile(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'campushub-bench-keys-')), 'keys.json');
  writeFileSync(file, JSON.stringify({ active: 'k1', keys: { k1: randomBytes(32).toString('base64') } }), { mode: 0o600 });
  return file;
}

/** The slot of the week (weekday, start) at which the most students have a class. */
async function busiestSlot(hub: Hub): Promise<{ weekday: number; startsAt: string; students: number }> {
  const { rows } = await hub.db.query<{ weekday: number; starts_at: string; students: number }>(
    `select t.weekday, t.starts_at::text as starts_at, count(distinct e.student_id)::int as students
       from timetable_slots t
       join timetable_slot_groups g on g.slot_id = t.id
       join enrolments e on e.section_id = g.section_id and (g.subgroup_id is null or e.subgroup_id = g.subgroup_id)
      group by t.weekday, t.starts_at
      order by students desc, t.weekday, t.starts_at
      limit 1`,
  );
  const row = rows[0];
  if (!row) throw new Error('the generated campus has no timetable');
  return { weekday: row.weekday, startsAt: row.starts_at, students: row.students };
}

/**
 * Opens, now, one session per slot of the busiest slot of the week, starting
 * when the window ends: the class change the taps walk into.
 */
async function openClassChangeSessions(hub: Hub, slot: { weekday: number; startsAt: string }, startsAt: Date): Promise<number> {
  const endsAt = new Date(startsAt.getTime() + CLASS_MINUTES * 60_000);
  const { rows: slots } = await hub.db.query<{ id: string; term_id: string; campus_id: string; room_id: string; faculty_id: string | null }>(
    'select id, term_id, campus_id, room_id, faculty_id from timetable_slots where weekday = $1 and starts_at = $2::time',
    [slot.weekday, slot.startsAt],
  );
  await hub.db.transaction(async (tx) => {
    for (const row of slots) {
      const id = randomUUID();
      await tx.query(
        `insert into sessions (id, term_id, campus_id, starts_at, ends_at, room_id, faculty_id, state, origin, opened_at)
         values ($1, $2, $3, $4, $5, $6, $7, 'open', 'manual', $8)`,
        [id, row.term_id, row.campus_id, startsAt, endsAt, row.room_id, row.faculty_id, new Date()],
      );
      await tx.query('insert into session_groups (session_id, section_id, subgroup_id) select $1, section_id, subgroup_id from timetable_slot_groups where slot_id = $2', [id, row.id]);
    }
  });
  return slots.length;
}

/** Each student on the roll of an open session scans at a door of its room, at a random moment of the window. */
async function planTaps(hub: Hub, windowMs: number, seed: number): Promise<Tap[]> {
  const { rows } = await hub.db.query<{ code: string; device_id: string }>(
    `select st.device_user_id as code, min(d.device_id) as device_id
       from sessions s
       join session_roll r on r.session_id = s.id
       join students st on st.id = r.student_id
       join room_devices d on d.room_id = s.room_id and d.campus_id = s.campus_id
      where s.state = 'open'
      group by s.id, st.device_user_id`,
  );
  const random = createRandom(seed);
  return rows.map((row) => ({ code: row.code, deviceId: row.device_id, offsetMs: Math.floor(random() * windowMs) })).sort((a, b) => a.offsetMs - b.offsetMs);
}

async function measure(backend: 'pglite' | 'postgres', options: { students: number; seed: number; windowMs: number; agents: number }) {
  const database = await createTestDatabase(backend === 'postgres' ? (process.env.BENCH_DATABASE_URL ?? DEFAULT_POSTGRES) : '');
  const defaults = hubDefaults();
  const hub = await startHub({
    ...defaults,
    http: { ...defaults.http, port: 0 },
    broker: { ...defaults.broker, port: 0, security: 'development' },
    database: { url: database.options.databaseUrl, dataDir: database.options.dataDir },
    keys: { keyFile: keyFile() },
    scheduler: { ...defaults.scheduler, intervalMs: 0 },
    logLevel: 'silent',
  });
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
    };
  } finally {
    await Promise.all(agents.map((agent) => agent.stop()));
    await Promise.all(scanners.map((scanner) => scanner.stop()));
    await hub.stop();
    await database.drop();
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
