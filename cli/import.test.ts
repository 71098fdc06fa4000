import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateCampus, importFiles, toCsv } from '../fixtures/generate.js';
import { createTestDatabase } from '../test/support/database.js';
import { tempDir } from '../test/support/tempDir.js';

const CLI = join(process.cwd(), 'cli/campushub.ts');

function campushub(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { env: { ...process.env, DATABASE_URL: '', CAMPUSHUB_DATA_DIR: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

test('campushub import: progress on stderr, the counts on stdout, row errors as "row N, column C", exit 1 and nothing written; --dry-run writes nothing', async (t) => {
  const database = await createTestDatabase();
  t.after(() => database.drop());
  const dbArgs = database.options.databaseUrl ? ['--database-url', database.options.databaseUrl] : ['--data-dir', database.options.dataDir!];
  const dir = tempDir(t, 'import-cli');
  const campus = generateCampus({ students: 30, seed: 2 });
  const files = importFiles(campus);
  for (const file of files) writeFileSync(join(dir, file.name), file.content);

  for (const file of files.slice(0, 3)) {
    const result = await campushub(['import', file.kind, join(dir, file.name), ...dbArgs]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, new RegExp(`importing ${file.kind} \\[#{20}\\] (\\d+)/\\1 100%`));
  }
  const bad = campus.students.slice(0, 3).map((student) => ({ ...student }));
  bad[1]!.roll_no = '';
  bad[2]!.batch = 'no-such-batch';
  writeFileSync(join(dir, 'bad.csv'), toCsv(['roll_no', 'name', 'batch', 'enrolment_date'], bad));
  const rejected = await campushub(['import', 'students', join(dir, 'bad.csv'), ...dbArgs]);
  assert.equal(rejected.code, 1);
  assert.match(rejected.stderr, /nothing was imported; 2 error\(s\)/);
  assert.match(rejected.stderr, /row 2, column roll_no: is required/);
  assert.match(rejected.stderr, /row 3, column batch: no batch "no-such-batch"/);

  const students = join(dir, files[3]!.name);
  const dryRun = await campushub(['import', 'students', students, '--dry-run', ...dbArgs]);
  assert.equal(dryRun.code, 0, dryRun.stderr);
  assert.deepEqual(JSON.parse(dryRun.stdout), { kind: 'students', rows: 30, inserted: 30, updated: 0, dryRun: true });
  const real = await campushub(['import', 'students', students, ...dbArgs]);
  assert.deepEqual(JSON.parse(real.stdout), { kind: 'students', rows: 30, inserted: 30, updated: 0 }, 'neither the rejected file (its first row is valid) nor the dry run left anything behind');

  const usage = await campushub(['import', 'grades', students, ...dbArgs]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /kind must be one of campus, students/);
});

test('campushub fixtures generate writes the same files for the same seed, and --load imports them in order', async (t) => {
  const database = await createTestDatabase();
  t.after(() => database.drop());
  const dbArgs = database.options.databaseUrl ? ['--database-url', database.options.databaseUrl] : ['--data-dir', database.options.dataDir!];
  const root = tempDir(t, 'fixtures-cli');
  const [first, second] = [join(root, 'a'), join(root, 'b')];
  mkdirSync(first);
  const loaded = await campushub(['fixtures', 'generate', '--students', '25', '--seed', '11', '--demo-hours', '--out', first, '--load', ...dbArgs]);
  assert.equal(loaded.code, 0, loaded.stderr);
  const results = loaded.stdout.trim().split('\n').slice(1).map((line) => JSON.parse(line) as { kind: string; inserted: number });
  assert.deepEqual(results.map((result) => result.kind), ['campus', 'faculty', 'courses', 'students', 'sections', 'enrolments', 'timetable', 'holidays']);
  assert.equal(results.find((result) => result.kind === 'students')!.inserted, 25 + 120);
  const generated = await campushub(['fixtures', 'generate', '--students', '25', '--seed', '11', '--demo-hours', '--out', second]);
  assert.equal(generated.code, 0, generated.stderr);
  for (const name of readdirSync(first)) assert.ok(readFileSync(join(first, name)).equals(readFileSync(join(second, name))), name);
  const db = await database.open();
  t.after(() => db.close());
  const { rows } = await db.query<{ n: number }>("select count(*)::int as n from room_devices d join timetable_slots s on s.room_id = d.room_id where d.device_id = 'door-101'");
  assert.equal(rows[0]!.n, 7 * 24);
});
