import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { MockZkTerminal } from '../simulators/zk/terminal.js';
import { dateOf } from '../simulators/zk/wire.js';
import { freePort } from '../test/support/ports.js';
import { spawnCampushub } from '../test/support/processes.js';
import { waitFor } from '../test/support/wait.js';
import { main } from './dispatch.js';

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs `campushub <args>` to its end; `onStart` gets the process while it runs. */
async function campushub(args: string[], onStart: () => void | Promise<void> = () => {}): Promise<Finished> {
  const started = performance.now();
  const run = spawnCampushub(args);
  let stdout = '';
  let stderr = '';
  run.child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  run.child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const closed = once(run.child, 'close') as Promise<[number | null]>;
  try {
    await onStart();
  } catch (error) {
    await run.kill();
    throw error;
  }
  const [code] = await closed;
  return { code, stdout, stderr, ms: performance.now() - started };
}

async function startTerminal(t: { after: (fn: () => Promise<void>) => void }): Promise<MockZkTerminal> {
  const terminal = await MockZkTerminal.start({ serialNumber: 'CLI-TEST-01', udp: false });
  t.after(() => terminal.close());
  terminal.addUser({ userId: '2025CS001', name: 'Asha Rao', password: '1234' });
  terminal.addUser({ userId: '2025EC001', name: 'Vikram Iyer', privilege: 6, card: 4711 });
  return terminal;
}

/** The cells of each row of the table under `headers`, cut at the header's column starts, so that misaligned columns fail the test. */
function tableRows(text: string, headers: string[]): string[][] {
  const lines = text.split('\n');
  const headerAt = lines.findIndex((line) => line.split(/ {2,}/).join('|') === headers.join('|'));
  assert.ok(headerAt >= 0, `no table headed ${headers.join(', ')} in:\n${text}`);
  const starts = headers.map((header) => lines[headerAt]!.indexOf(header));
  return lines
    .slice(headerAt + 1)
    .filter((line) => line.trim() !== '')
    .map((line) => starts.map((start, column) => line.slice(start, starts[column + 1]).trim()));
}

interface InfoDocument {
  device: { kind: string; url: string };
  state: string;
  capabilities: Record<string, boolean>;
  details: { serialNumber: string; users: number };
  link: { rxFrames: number; lastSeenAt: string | null };
}

test('device info shows the terminal\'s identity, capabilities and link counters, as text and as one JSON document', { timeout: 20_000 }, async (t) => {
  const terminal = await startTerminal(t);
  const device = `zk:${terminal.url('tcp', { commKey: 0 })}`;
  const [text, json] = await Promise.all([campushub(['device', 'info', device]), campushub(['device', 'info', device, '--json'])]);

  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^Device +zk:tcp:\/\/127\.0\.0\.1:\d+\?commKey=\*\*\*$/m);
  assert.match(text.stdout, /^Driver +zk, ready$/m);
  assert.match(text.stdout, /^Capabilities +identify, users, templates, logs, clearLogs, time, enableDisable, acknowledgedDelivery$/m);
  assert.match(text.stdout, /^Serial number +CLI-TEST-01$/m);
  assert.match(text.stdout, /^Users +2$/m);
  assert.match(text.stdout, /^User capacity +3000$/m);
  assert.match(text.stdout, /^Link problems +none$/m);
  const valueColumns = new Set(text.stdout.split('\n').filter((line) => line.trim() !== '').map((line) => /^\S+(?: \S+)* {2,}/.exec(line)?.[0].length));
  assert.equal(valueColumns.size, 1, `every value starts in one column:\n${text.stdout}`);

  assert.equal(json.code, 0, json.stderr);
  const info = JSON.parse(json.stdout) as InfoDocument;
  assert.deepEqual(info.device, { kind: 'zk', url: `tcp://127.0.0.1:${terminal.port}?commKey=***` });
  assert.equal(info.state, 'ready');
  assert.equal(info.capabilities.users, true);
  assert.equal(info.capabilities.scan, false);
  assert.equal(info.details.serialNumber, 'CLI-TEST-01');
  assert.equal(info.details.users, 2);
  assert.ok(info.link.rxFrames > 0 && typeof info.link.lastSeenAt === 'string', JSON.stringify(info.link));
});

test('device users lists the users in aligned columns and as JSON, and never shows their passwords', { timeout: 20_000 }, async (t) => {
  const terminal = await startTerminal(t);
  const device = `zk:${terminal.url()}`;
  const [text, json] = await Promise.all([campushub(['device', 'users', device]), campushub(['device', 'users', device, '--json'])]);

  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^2 users on zk:tcp:/);
  assert.deepEqual(tableRows(text.stdout, ['USER ID', 'NAME', 'UID', 'ROLE', 'CARD', 'GROUP', 'HAS PASSWORD']), [
    ['2025CS001', 'Asha Rao', '1', 'user', '0', '1', 'yes'],
    ['2025EC001', 'Vikram Iyer', '2', 'admin', '4711', '1', 'no'],
  ]);
  assert.doesNotMatch(text.stdout, /1234/);

  assert.equal(json.code, 0, json.stderr);
  const { count, users } = JSON.parse(json.stdout) as { count: number; users: Record<string, unknown>[] };
  assert.equal(count, 2);
  assert.deepEqual(
    users.map((user) => [user.userId, user.name, user.role, user.hasPassword]),
    [
      ['2025CS001', 'Asha Rao', 'user', true],
      ['2025EC001', 'Vikram Iyer', 'admin', false],
    ],
  );
  assert.ok(users.every((user) => !('password' in user)));
});

test('device logs shows how many records there are and each of them, and --since leaves out the older ones', { timeout: 20_000 }, async (t) => {
  const terminal = await startTerminal(t);
  // Three records a minute apart, the last a minute ago.
  terminal.fillLog(3);
  const device = `zk:${terminal.url()}`;
  const since = new Date(Date.now() - 150_000);
  const localIso = new Date(since.getTime() - since.getTimezoneOffset() * 60_000).toISOString().slice(0, 19);
  const [text, json] = await Promise.all([campushub(['device', 'logs', device]), campushub(['device', 'logs', device, '--since', localIso, '--json'])]);

  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^3 records in the log of zk:tcp:/);
  const rows = tableRows(text.stdout, ['TIME', 'SUBJECT', 'METHOD', 'UID', 'VERIFY MODE', 'STATE']);
  assert.equal(rows.length, 3);
  assert.deepEqual(rows.map(([, subject]) => subject), ['2025CS001', '2025EC001', '2025CS001']);
  assert.ok(rows.every(([time]) => /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/.test(time!)), JSON.stringify(rows));

  assert.equal(json.code, 0, json.stderr);
  const log = JSON.parse(json.stdout) as { total: number; count: number; records: { subject: string; deviceTime: string; deviceKey: string }[] };
  assert.equal(log.total, 3);
  assert.equal(log.count, 2);
  assert.ok(log.records.every((record) => Date.parse(record.deviceTime) >= since.getTime() - 1_000 && record.deviceKey.startsWith('zk/CLI-TEST-01/')));
});

test('device time compares the device clock with this host\'s, and --set now puts it right', { timeout: 20_000 }, async (t) => {
  const terminal = await startTerminal(t);
  terminal.setClock(new Date(Date.now() - 3_600_000));
  const device = `zk:${terminal.url()}`;

  const text = await campushub(['device', 'time', device]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^Device time +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/m);
  assert.match(text.stdout, /^Difference +the device is 1 h 0 min behind this host$/m);

  const json = await campushub(['device', 'time', device, '--set', 'now', '--json']);
  assert.equal(json.code, 0, json.stderr);
  const clock = JSON.parse(json.stdout) as { set: string; deviceTime: string; offsetMs: number };
  assert.ok(Math.abs(clock.offsetMs) < 2_000, `offset ${clock.offsetMs} ms after --set now`);
  assert.ok(Math.abs(Date.parse(clock.set) - Date.now()) < 10_000);
  assert.ok(Math.abs(dateOf(terminal.now()).getTime() - Date.now()) < 2_000, 'the terminal keeps the new time');
});

test('device templates lists each template by subject and finger, with what the driver tells about it', { timeout: 20_000 }, async (t) => {
  const terminal = await startTerminal(t);
  terminal.putTemplate({ uid: 2, finger: 6, flag: 1, data: Buffer.alloc(600, 0xa5) });
  const text = await campushub(['device', 'templates', `zk:${terminal.url()}`]);

  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^1 template on zk:tcp:/);
  assert.deepEqual(tableRows(text.stdout, ['SUBJECT', 'FINGER', 'UID', 'FLAG', 'BYTES']), [['2025EC001', '6', '2', 'valid', '600']]);
});

test('device watch --count 2 --json prints one JSON line per punch and exits after the second', { timeout: 20_000 }, async (t) => {
  const terminal = await startTerminal(t);
  const watch = await campushub(['device', 'watch', `zk:${terminal.url()}`, '--count', '2', '--json'], async () => {
    await waitFor(() => terminal.eventListenerCount === 1, { message: 'the watch to register for realtime punches' });
    terminal.punch('2025CS001', 1);
    terminal.punch('2025EC001', 2);
  });

  assert.equal(watch.code, 0, watch.stderr);
  const events = watch.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, string>);
  assert.deepEqual(
    events.map((event) => [event.type, event.subject, event.method]),
    [
      ['identified', '2025CS001', 'fingerprint'],
      ['identified', '2025EC001', 'card'],
    ],
  );
  assert.ok(events.every((event) => event.deviceKey!.startsWith('zk/CLI-TEST-01/') && !Number.isNaN(Date.parse(event.receivedAt!))));
});

test('device watch prints each punch as a readable line', { timeout: 20_000 }, async (t) => {
  const terminal = await startTerminal(t);
  const watch = await campushub(['device', 'watch', `zk:${terminal.url()}`, '--count', '1'], async () => {
    await waitFor(() => terminal.eventListenerCount === 1, { message: 'the watch to register for realtime punches' });
    terminal.punch('2025CS001', 1);
  });

  assert.equal(watch.code, 0, watch.stderr);
  assert.match(watch.stdout, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d {2}identified {2}2025CS001 +fingerprint {2}device time \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\n$/);
  assert.match(watch.stderr, /Watching zk:tcp:\/\/127\.0\.0\.1:\d+ for 1 event; Ctrl-C stops/);
});

test('asking a device for something its driver lacks exits 2 with a message naming the capability', { timeout: 20_000 }, async () => {
  const port = await freePort();
  const [users, logs, watch] = await Promise.all([
    campushub(['device', 'users', `qr:tcp://127.0.0.1:${port}`]),
    campushub(['device', 'logs', `r30x:tcp://127.0.0.1:${port}`, '--json']),
    campushub(['device', 'watch', `zk:tcp://127.0.0.1:${port}?realtime=0`]),
  ]);
  assert.deepEqual([users.code, logs.code, watch.code], [2, 2, 2]);
  assert.equal(users.stdout + logs.stdout + watch.stdout, '');
  assert.match(users.stderr, /qr:tcp:\/\/127\.0\.0\.1:\d+ cannot list its users: its driver \(qr-line\) lacks the "users" capability \(its capabilities: scan\)/);
  assert.match(logs.stderr, /cannot hand over its attendance log: its driver \(r30x\) lacks the "logs" capability/);
  assert.match(watch.stderr, /cannot report taps or scans: its driver \(zk\) has none of the capabilities "identify", "scan"/);
});

test('an unreachable device exits 1 with a message saying why, within the timeout', { timeout: 20_000 }, async () => {
  const port = await freePort();
  const [refused, neverReady] = await Promise.all([
    campushub(['device', 'info', `zk:tcp://127.0.0.1:${port}`, '--timeout-ms', '5000']),
    campushub(['device', 'templates', `r30x:tcp://127.0.0.1:${port}`, '--timeout-ms', '1000']),
  ]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, new RegExp(`^campushub device: cannot open zk:tcp://127\\.0\\.0\\.1:${port}: connect ECONNREFUSED`));
  assert.equal(neverReady.code, 1);
  assert.match(neverReady.stderr, new RegExp(`^campushub device: r30x:tcp://127\\.0\\.0\\.1:${port} did not become ready within 1000 ms \\(last problem: .*ECONNREFUSED`));
  // Start-up of a child with tsx takes a second or two; the rest is the timeout.
  assert.ok(neverReady.ms < 1_000 + 5_000, `took ${Math.round(neverReady.ms)} ms`);
  assert.equal(refused.stdout + neverReady.stdout, '');
});

test('a misspelt action, a device without its kind, a bad URL and an option meant for another action are usage errors', async () => {
  const cases: [string[], RegExp][] = [
    [['device', 'lgos', 'zk:tcp://127.0.0.1:4370'], /unknown action "lgos" \(did you mean logs\?\)/],
    [['device', 'info', 'tcp://127.0.0.1:4370'], /expected the device as KIND:URL with KIND one of qr, zk, r30x, hid, zk-push/],
    [['device', 'info', 'zk:serial:///dev/ttyUSB0'], /a ZK terminal is reached over tcp:\/\/ or udp:\/\//],
    [['device', 'users', 'zk:tcp://127.0.0.1:4370', '--since', '1h'], /--since applies to `device logs` only/],
    [['device', 'logs', 'zk:tcp://127.0.0.1:4370', '--since', 'yesterday'], /--since "yesterday" is not an ISO date/],
    [['device', 'time', 'zk:tcp://127.0.0.1:4370', '--set', 'soon'], /--set "soon" is not an ISO date/],
    [['device', 'watch', 'zk:tcp://127.0.0.1:4370', '--count', '0'], /--count must be a whole number from 1/],
  ];
  for (const [argv, message] of cases) {
    let err = '';
    const code = await main(argv, {}, { stdout: () => {}, stderr: (text) => void (err += text) });
    assert.equal(code, 2, argv.join(' '));
    assert.match(err, message);
    assert.match(err, /campushub device --help/);
  }
});
