import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import pino from 'pino';
import { startHub, type Hub } from '../app.js';
import { hubDefaults, type HubConfig } from '../config.js';
import { createTestDatabase } from '../../test/support/database.js';
import { TEST_ADMIN_TOKEN, startTestHub } from '../../test/support/hub.js';
import { startSmtpSink } from '../../test/support/smtpSink.js';
import { tempDir } from '../../test/support/tempDir.js';
import { createTestUser } from '../../test/support/users.js';
import { quietEnd, signWebhook } from './dispatcher.js';

const MINUTE = 60_000;
const WEBHOOK_SECRET = 'whsec-test-not-a-secret';

interface Receiver {
  url: string;
  /** How the receiver answers the next request: 200, or a failure status. */
  answer: () => number;
  /** Notification ids it accepted (2xx), in order, with repeats. */
  accepted: string[];
  /** Every request it saw, accepted or not. */
  seen: number;
  badSignatures: number;
}

async function startReceiver(t: TestContext): Promise<Receiver> {
  const receiver: Receiver = { url: '', answer: () => 200, accepted: [], seen: 0, badSignatures: 0 };
  const server = createServer((request: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      receiver.seen++;
      const payload = Buffer.concat(chunks).toString();
      const signature = String(request.headers['x-campushub-signature']);
      const timestamp = Number(/^t=(\d+),/.exec(signature)?.[1]);
      if (signWebhook(WEBHOOK_SECRET, timestamp, payload) !== signature) receiver.badSignatures++;
      const id = String(request.headers['x-campushub-notification-id']);
      assert.equal((JSON.parse(payload) as { id: string }).id, id);
      const status = receiver.answer();
      if (status < 300) receiver.accepted.push(id);
      response.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  receiver.url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hooks/campushub`;
  return receiver;
}

/** A hub on `dataDir`/`databaseUrl` that may be stopped and started again on the same database. */
function hubConfig(t: TestContext, database: { databaseUrl?: string; dataDir?: string }, webhookUrl: string): HubConfig {
  const defaults = hubDefaults();
  const keyFile = join(tempDir(t, 'hub-keys'), 'keys.json');
  writeFileSync(keyFile, JSON.stringify({ active: 'k1', keys: { k1: randomBytes(32).toString('base64') } }), { mode: 0o600 });
  return {
    ...defaults,
    http: { ...defaults.http, host: '127.0.0.1', port: 0 },
    broker: { ...defaults.broker, host: '127.0.0.1', port: 0, security: 'development' },
    database: { url: database.databaseUrl, dataDir: database.dataDir },
    adminToken: TEST_ADMIN_TOKEN,
    keys: { keyFile },
    scheduler: { intervalMs: 0 },
    notifications: {
      ...defaults.notifications,
      webhooks: [{ name: 'sis', url: webhookUrl, secret: WEBHOOK_SECRET }],
      dispatchIntervalMs: 0,
      retry: { baseMs: MINUTE, maxMs: 8 * MINUTE, maxAttempts: 50 },
    },
    logLevel: 'silent',
  };
}

async function notifyMany(hub: Hub, from: number, count: number, at: number): Promise<string[]> {
  return hub.db.transaction(async (tx) => {
    const ids: string[] = [];
    for (let index = from; index < from + count; index++) {
      const id = await hub.notifications.notify(tx, { kind: 'absence.consecutive', recipient: `user-${index}`, dedupeKey: `n${index}`, title: `Notice ${index}`, body: { index } }, new Date(at));
      ids.push(id!);
    }
    return ids;
  });
}

test('a webhook receiver that fails, then recovers, gets every notification exactly once by id, across a hub restart', async (t) => {
  const database = await createTestDatabase();
  const receiver = await startReceiver(t);
  const config = hubConfig(t, database.options, receiver.url);
  let clock = Date.parse('2026-11-25T08:00:00Z');
  const now = () => clock;

  let hub = await startHub(config, pino({ level: 'silent' }), { now });
  let stopped = false;
  t.after(() => (stopped ? undefined : hub.stop()));
  t.after(() => database.drop());
  const ids = await notifyMany(hub, 0, 20, clock);
  // Raising the same notification again (kind, recipient, dedupe key) adds nothing.
  assert.deepEqual(await notifyMany(hub, 0, 1, clock), [null]);

  // The receiver is down: every attempt fails and is retried later.
  receiver.answer = () => 503;
  assert.equal(await hub.notifications.dispatcher.dispatchNow(), 20);
  assert.equal(await hub.notifications.dispatcher.dispatchNow(), 0, 'nothing is due again before its backoff');
  clock += MINUTE;
  // It comes back flaky: every other request fails.
  let flip = 0;
  receiver.answer = () => (flip++ % 2 === 0 ? 200 : 500);
  assert.equal(await hub.notifications.dispatcher.dispatchNow(), 20);
  assert.equal(new Set(receiver.accepted).size, 10);

  // The hub restarts with deliveries pending; more notifications arrive on the new one.
  await hub.stop();
  stopped = true;
  hub = await startHub(config, pino({ level: 'silent' }), { now });
  stopped = false;
  ids.push(...(await notifyMany(hub, 20, 10, clock)));
  receiver.answer = () => 200;
  for (let round = 0; round < 10; round++) {
    clock += 8 * MINUTE;
    await hub.notifications.dispatcher.dispatchNow();
  }

  const counts = new Map<string, number>();
  for (const id of receiver.accepted) counts.set(id, (counts.get(id) ?? 0) + 1);
  assert.deepEqual([...counts.keys()].sort(), [...ids].sort(), 'every notification arrived');
  assert.deepEqual([...counts.entries()].filter(([, count]) => count !== 1), [], 'none arrived twice');
  assert.equal(receiver.badSignatures, 0);
  assert.equal(receiver.seen, 20 + 20 + 10 + 10);

  // The delivery ledger proves when each went out, and what failed before.
  const ledger = await hub.db.query<{ state: string; attempts: number; outcomes: string[] }>(
    `select d.state, d.attempts, array_agg(a.outcome order by a.attempt) as outcomes
       from notification_deliveries d join notification_attempts a using (notification_id, channel, destination)
      group by d.notification_id, d.state, d.attempts`,
  );
  assert.equal(ledger.rows.length, 30);
  assert.ok(ledger.rows.every((row) => row.state === 'delivered' && row.outcomes.at(-1) === 'delivered' && row.outcomes.length === row.attempts));
  assert.equal(ledger.rows.filter((row) => row.attempts === 1).length, 10, 'the ten raised after the restart went through at once');
});

test('email goes through SMTP with the user\'s address, waits out quiet hours, is retried when the relay refuses, and respects muted kinds', async (t) => {
  const sink = await startSmtpSink(t);
  let clock = Date.parse('2026-11-25T16:00:00Z'); // 21:30 in Kolkata
  const defaults = hubDefaults();
  const hub = await startTestHub(
    t,
    {
      scheduler: { intervalMs: 0 },
      notifications: { ...defaults.notifications, smtp: { host: sink.host, port: sink.port, from: 'attendance@college.example' }, dispatchIntervalMs: 0, retry: { baseMs: MINUTE, maxMs: MINUTE, maxAttempts: 5 } },
    },
    { now: () => clock },
  );
  const student = await createTestUser(hub, { role: 'student', email: 'ananya.rao@example.edu' });
  const quiet = await student.api('/api/v1/notifications/preferences', {
    method: 'PUT',
    body: JSON.stringify({ email: true, mutedKinds: ['matrix.noise'], quietFrom: 22 * 60, quietTo: 7 * 60, timeZone: 'Asia/Kolkata' }),
    headers: { 'content-type': 'application/json' },
  });
  assert.equal(quiet.status, 200, await quiet.clone().text());
  const notify = (kind: string, key: string) =>
    hub.db.transaction((tx) => hub.notifications.notify(tx, { kind, recipient: student.id, dedupeKey: key, title: `${kind} ${key}`, body: { line: '.starts with a dot' } }, new Date(clock)));
  await notify('absence.consecutive', 'a');
  await notify('matrix.noise', 'b');

  sink.refuseNext(1);
  await hub.notifications.dispatcher.dispatchNow();
  assert.equal(sink.mails.length, 0, 'the relay refused the first try');
  clock += 40 * MINUTE; // 22:10 in Kolkata: quiet
  await hub.notifications.dispatcher.dispatchNow();
  assert.equal(sink.mails.length, 0, 'quiet hours hold email back');
  const held = await hub.db.query<{ next: Date; attempts: number }>(`select next_attempt_at as next, attempts from notification_deliveries where channel = 'email'`);
  assert.deepEqual(held.rows.map((row) => [row.next.toISOString(), row.attempts]), [['2026-11-26T01:30:00.000Z', 1]], 'postponed to 07:00 Kolkata, without counting an attempt');
  clock = Date.parse('2026-11-26T01:30:00Z');
  await hub.notifications.dispatcher.dispatchNow();
  assert.equal(sink.mails.length, 1, 'the muted kind never had an email delivery');
  const [mail] = sink.mails;
  assert.deepEqual(mail!.to, ['ananya.rao@example.edu']);
  assert.equal(mail!.from, 'attendance@college.example');
  assert.match(mail!.data, /^Subject: absence\.consecutive a$/m);
  assert.match(mail!.data, /^line: \.starts with a dot$/m);

  await student.login(); // a new day on the hub's clock: the morning's access token has expired
  const inbox = (await (await student.api('/api/v1/notifications')).json()) as { items: { kind: string }[] };
  assert.deepEqual(inbox.items.map((item) => item.kind).sort(), ['absence.consecutive', 'matrix.noise'], 'the inbox has both');
});

test('quiet hours wrap midnight in the recipient\'s time zone', () => {
  const at = (iso: string) => Date.parse(iso);
  assert.equal(quietEnd(22 * 60, 7 * 60, 'UTC', at('2026-11-25T21:59:00Z')), null);
  assert.equal(quietEnd(22 * 60, 7 * 60, 'UTC', at('2026-11-25T23:15:00Z')), at('2026-11-26T07:00:00Z'));
  assert.equal(quietEnd(22 * 60, 7 * 60, 'UTC', at('2026-11-26T06:59:30Z')), at('2026-11-26T07:00:00Z'));
  assert.equal(quietEnd(13 * 60, 14 * 60, 'Asia/Kolkata', at('2026-11-25T07:45:00Z')), at('2026-11-25T08:30:00Z'));
  assert.equal(quietEnd(13 * 60, 14 * 60, 'Asia/Kolkata', at('2026-11-25T08:30:00Z')), null);
});
