import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import pino from 'pino';
import { hubDefaults } from '../config.js';
import { createHubMetrics } from '../metrics/metrics.js';
import { createMatcher, queueForMatching, type MatcherOptions } from './matcher.js';
import { PROTOCOL_VERSION, agentTopic, uuidv7, type Ack, type TapEvent, type TapMethod } from '../../protocol/index.js';
import { FIRST_LECTURE_START, insertSession } from '../../test/support/attendance.js';
import { CAMPUS_IDS, seedSmallCampus } from '../../test/support/campus.js';
import { startTestHub, type TestHub } from '../../test/support/hub.js';
import { waitFor } from '../../test/support/wait.js';

const [S1, S2, S3] = CAMPUS_IDS.students;
const MINUTE = 60_000;
const address = { campusId: 'main', agentId: 'agent-main' };

function tap(deviceId: string, method: TapMethod, subject: string, at: number, overrides: Partial<TapEvent> = {}): TapEvent {
  return { id: uuidv7(), kind: 'tap', deviceId, method, subject, deviceTime: method === 'qr' ? null : new Date(at).toISOString(), receivedAt: new Date(at).toISOString(), ...overrides };
}

async function agent(t: TestContext, hub: TestHub) {
  const client = await mqtt.connectAsync(hub.mqttUrl, { protocolVersion: 4, reconnectPeriod: 0 });
  t.after(() => client.endAsync(true));
  const acks: Ack[] = [];
  client.on('message', (_topic, payload) => acks.push(JSON.parse(payload.toString()) as Ack));
  await client.subscribeAsync(agentTopic(address, 'ack'), { qos: 1 });
  return async (events: TapEvent[]): Promise<Ack> => {
    const batchId = uuidv7();
    await client.publishAsync(agentTopic(address, 'events'), JSON.stringify({ v: PROTOCOL_VERSION, batchId, sentAt: new Date().toISOString(), events }), { qos: 1 });
    const ack = await waitFor(() => acks.find((ack) => ack.batchId === batchId), { message: `ack of batch ${batchId}` });
    // Matching follows the acknowledgement.
    await hub.matcher.idle();
    return ack;
  };
}

async function start(t: TestContext) {
  const hub = await startTestHub(t, {}, { now: () => FIRST_LECTURE_START + 30 * MINUTE });
  await seedSmallCampus(hub.db);
  const lecture = await insertSession(hub.db);
  return { hub, lecture, send: await agent(t, hub) };
}

async function unmatchedReasons(hub: TestHub): Promise<Record<string, string>> {
  const { rows } = await hub.db.query<{ event_id: string; reason: string }>('select event_id, reason from unmatched_taps');
  return Object.fromEntries(rows.map((row) => [row.event_id, row.reason]));
}

async function ledger(hub: TestHub): Promise<{ tap_event_id: string; student_id: string; status: string; source: string }[]> {
  const { rows } = await hub.db.query<{ tap_event_id: string; student_id: string; status: string; source: string }>(
    'select tap_event_id, student_id, status, source from attendance_events order by tap_event_id',
  );
  return rows;
}

test('taps in a session\'s room and window mark its students: present within the grace, late after, by the channel they came through', async (t) => {
  const { hub, lecture, send } = await start(t);
  const fingerprint = tap('door-101', 'fingerprint', '1001', FIRST_LECTURE_START - 10 * MINUTE);
  const qrByRollNo = tap('door-101', 'qr', 'CS24002', FIRST_LECTURE_START + 12 * MINUTE);
  const cardById = tap('door-101', 'card', 'ID-CS24003', FIRST_LECTURE_START + 10 * MINUTE);
  const ack = await send([fingerprint, qrByRollNo, cardById]);
  assert.deepEqual(ack.committed, [fingerprint.id, qrByRollNo.id, cardById.id]);
  const byTap = (events: Awaited<ReturnType<typeof ledger>>) => Object.fromEntries(events.map((e) => [e.tap_event_id, [e.student_id, e.status, e.source]]));
  assert.deepEqual(byTap(await ledger(hub)), {
    [fingerprint.id]: [S1, 'present', 'biometric'],
    [qrByRollNo.id]: [S2, 'late', 'qr'],
    [cardById.id]: [S3, 'present', 'card'],
  });
  const roll = (await (await hub.api(`/api/v1/sessions/${lecture}/records`)).json()) as { items: { studentId: string; status: string }[] };
  assert.deepEqual(roll.items.map((item) => item.status), ['present', 'late', 'present']);

  // Redelivery stores nothing twice: no second event, no unmatched row.
  await send([fingerprint, qrByRollNo, cardById]);
  assert.equal((await ledger(hub)).length, 3);
  assert.deepEqual(await unmatchedReasons(hub), {});
});

test('a lab batch session takes only its own sub-group', async (t) => {
  const { hub, send } = await start(t);
  const lab = await insertSession(hub.db, {
    startsAt: FIRST_LECTURE_START + 5 * 60 * MINUTE,
    minutes: 120,
    roomId: 'LAB1',
    groups: [{ sectionId: CAMPUS_IDS.practical, subgroupId: CAMPUS_IDS.labBatch1 }],
  });
  const batchOne = tap('door-lab1-back', 'fingerprint', '1001', FIRST_LECTURE_START + 5 * 60 * MINUTE);
  const batchTwo = tap('door-lab1', 'fingerprint', '1003', FIRST_LECTURE_START + 5 * 60 * MINUTE);
  await send([batchOne, batchTwo]);
  assert.deepEqual((await ledger(hub)).map((e) => [e.tap_event_id, e.student_id]), [[batchOne.id, S1]]);
  const { rows } = await hub.db.query<{ reason: string; details: { sessionId: string } }>('select reason, details from unmatched_taps where event_id = $1', [batchTwo.id]);
  assert.deepEqual(rows, [{ reason: 'not_enrolled', details: { sessionId: lab, studentId: S3 } }]);
});

test('every tap that marks nobody is kept with its reason, and the rest of its batch still marks', async (t) => {
  const { hub, send } = await start(t);
  const during = FIRST_LECTURE_START + 5 * MINUTE;
  const first = tap('door-101', 'fingerprint', '1001', during);
  const taps = {
    unknown_device: tap('door-999', 'fingerprint', '1001', during),
    unknown_student: tap('door-101', 'fingerprint', '9999', during),
    not_enrolled: tap('door-101', 'fingerprint', '2001', during),
    no_session: tap('door-201', 'fingerprint', '1001', during),
    outside_window: tap('door-101', 'fingerprint', '1003', FIRST_LECTURE_START - 16 * MINUTE),
    duplicate: tap('door-101', 'fingerprint', '1001', during + 59_000),
  };
  const afterWindow = tap('door-101', 'fingerprint', '1002', FIRST_LECTURE_START + 51 * MINUTE);
  // A roll number is no terminal user id: a fingerprint tap is matched by the terminal's user id only.
  const rollNoAtTerminal = tap('door-101', 'fingerprint', 'CS24002', during);
  const ack = await send([first, ...Object.values(taps), afterWindow, rollNoAtTerminal]);
  assert.equal(ack.committed.length, 9);
  const reasons = await unmatchedReasons(hub);
  for (const [reason, event] of Object.entries(taps)) assert.equal(reasons[event.id], reason, reason);
  assert.equal(reasons[afterWindow.id], 'outside_window');
  assert.equal(reasons[rollNoAtTerminal.id], 'unknown_student');
  assert.deepEqual((await ledger(hub)).map((e) => e.tap_event_id), [first.id]);

  // Outside the duplicate window a second tap is recorded, but the first tap still decides.
  const later = tap('door-101', 'fingerprint', '1001', during + 20 * MINUTE);
  await send([later]);
  const events = await ledger(hub);
  assert.equal(events.length, 2);
  const { rows } = await hub.db.query<{ status: string; event_id: string }>('select status, event_id::text from attendance_current where student_id = $1', [S1]);
  const firstEvent = events.find((e) => e.tap_event_id === first.id)!;
  assert.equal(rows[0]!.status, firstEvent.status);
});

test('unmatched taps are listed newest first, filtered by reason, in pages', async (t) => {
  const { hub, send } = await start(t);
  const during = FIRST_LECTURE_START + 5 * MINUTE;
  const unknown = [1, 2, 3].map((n) => tap(`door-x${n}`, 'qr', `S-${n}`, during));
  await send([...unknown, tap('door-101', 'fingerprint', '9999', during)]);
  const page = async (query: string) => (await (await hub.api(`/api/v1/unmatched-taps?${query}`)).json()) as { items: { eventId: string; reason: string; deviceId: string }[]; nextCursor: string | null };
  const first = await page('reason=unknown_device&limit=2');
  assert.equal(first.items.length, 2);
  assert.ok(first.nextCursor);
  const second = await page(`reason=unknown_device&limit=2&cursor=${first.nextCursor}`);
  assert.deepEqual([...first.items, ...second.items].map((item) => item.eventId).sort(), unknown.map((event) => event.id).sort());
  assert.equal(second.nextCursor, null);
  assert.deepEqual((await page('reason=unknown_student')).items.map((item) => item.deviceId), ['door-101']);
  const bad = await hub.api('/api/v1/unmatched-taps?reason=lost');
  assert.equal(bad.status, 400);
  assert.equal(((await bad.json()) as { details: { path: string }[] }).details[0]!.path, '/reason');
});

/** Stores taps and queues them for matching as ingest does, without waking any matcher. */
async function storeAndQueue(hub: TestHub, taps: readonly TapEvent[]): Promise<void> {
  await hub.db.transaction(async (tx) => {
    for (const event of taps) {
      await tx.query(
        `insert into events (id, campus_id, agent_id, device_id, kind, method, subject, device_time, received_at) values ($1, 'main', 'agent-main', $2, 'tap', $3, $4, $5, $6)`,
        [event.id, event.deviceId, event.method, event.subject, event.deviceTime, event.receivedAt],
      );
    }
    await queueForMatching(tx, taps.map((event) => event.id));
  });
}

function matcherOf(hub: TestHub, options: Partial<MatcherOptions>, metrics = createHubMetrics()) {
  return createMatcher({
    db: hub.db,
    metrics,
    logger: pino({ level: 'silent' }),
    settings: hubDefaults().attendance,
    maxTapsPerMatch: 5000,
    now: () => new Date(FIRST_LECTURE_START + 45 * MINUTE),
    ...options,
  });
}

test('while ingest stays busy the matcher still settles the queue, in small batches', async (t) => {
  const { hub } = await start(t);
  const taps = Array.from({ length: 30 }, (_, n) => tap('door-101', 'fingerprint', '9999', FIRST_LECTURE_START + n * MINUTE));
  await storeAndQueue(hub, taps);
  const metrics = createHubMetrics();
  const matcher = matcherOf(hub, { receiptFirst: { busy: () => true, maxWaitMs: 20, tapsWhileBusy: 10 } }, metrics);
  matcher.wake();
  await matcher.idle();
  assert.equal((await hub.db.query('select 1 from match_queue')).rows.length, 0);
  assert.equal((await hub.db.query('select 1 from unmatched_taps')).rows.length, 30);
  const batches = (await metrics.matchBatchSeconds.get()).values.find((value) => value.metricName === 'campushub_match_batch_seconds_count')!.value;
  assert.equal(batches, 3, 'three batches of ten');
});

test('two matchers on one database settle every queued tap exactly once', async (t) => {
  const { hub } = await start(t);
  // Taps committed and queued as by ingest, then matched by two matchers at once, as by two hubs.
  const taps = Array.from({ length: 600 }, (_, n) =>
    tap('door-101', n % 7 === 0 ? 'qr' : 'fingerprint', ['1001', '1002', '1003', '2001', '9999'][n % 5]!, FIRST_LECTURE_START + (n % 40) * MINUTE),
  );
  await storeAndQueue(hub, taps);
  const matchers = [1, 2].map(() => matcherOf(hub, { maxTapsPerMatch: 25 }));
  for (const matcher of matchers) matcher.wake();
  await Promise.all(matchers.map((matcher) => matcher.idle()));

  const { rows: outcomes } = await hub.db.query<{ id: string; marks: number; unmatched: number }>(
    `select e.id, (select count(*)::int from attendance_events a where a.tap_event_id = e.id) as marks,
            (select count(*)::int from unmatched_taps u where u.event_id = e.id) as unmatched
       from events e`,
  );
  assert.equal(outcomes.length, taps.length);
  assert.deepEqual(outcomes.filter((outcome) => outcome.marks + outcome.unmatched !== 1), [], 'each tap marked once or kept with one reason');
  assert.equal((await hub.db.query('select 1 from match_queue')).rows.length, 0);
  const { rows: records } = await hub.db.query<{ student_id: string; status: string }>('select student_id, status from attendance_current order by student_id');
  assert.deepEqual(records.map((record) => record.student_id), [S1, S2, S3], 'one record per student on the roll');
});
