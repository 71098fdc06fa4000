import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import { agentTopic } from '../../protocol/index.js';
import { CAMPUS_IDS, linkUser, seedSmallCampus } from '../../test/support/campus.js';
import { startTestHub, type TestHub } from '../../test/support/hub.js';
import { createTestUser } from '../../test/support/users.js';
import { waitFor } from '../../test/support/wait.js';

interface Clock {
  set(iso: string): void;
  now(): number;
}

function clockAt(iso: string): Clock {
  let current = Date.parse(iso);
  return { set: (next) => void (current = Date.parse(next)), now: () => current };
}

interface SessionView {
  id: string;
  state: string;
  openedAt: string | null;
  closedAt: string | null;
  finalizedAt: string | null;
  finalizedBy: string | null;
  cancelledReason: string | null;
}

const json = (method: string, body: unknown): RequestInit => ({ method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function campusHub(t: TestContext, clock: Clock): Promise<TestHub> {
  const hub = await startTestHub(t, { scheduler: { intervalMs: 0 } }, { now: clock.now });
  await seedSmallCampus(hub.db);
  return hub;
}

async function createSession(hub: TestHub, startsAt: string, endsAt: string, roomId: string, sectionId: string = CAMPUS_IDS.theory): Promise<string> {
  const response = await hub.api('/api/v1/sessions', json('POST', { groups: [{ sectionId }], startsAt, endsAt, roomId, facultyId: CAMPUS_IDS.facultyCs }));
  assert.equal(response.status, 201, await response.clone().text());
  return ((await response.json()) as { id: string }).id;
}

async function session(hub: TestHub, id: string): Promise<SessionView> {
  const response = await hub.api(`/api/v1/sessions/${id}`);
  assert.equal(response.status, 200);
  return (await response.json()) as SessionView;
}

async function auditActions(hub: TestHub, target: string): Promise<{ action: string; actor: string }[]> {
  const { rows } = await hub.db.query<{ action: string; actor: string }>('select action, actor from audit_log where target = $1 order by id', [target]);
  return rows;
}

async function flags(hub: TestHub, query = ''): Promise<{ sessionId: string; kind: string; details: Record<string, unknown>; resolvedAt: string | null }[]> {
  const response = await hub.api(`/api/v1/session-flags?limit=100${query}`);
  assert.equal(response.status, 200);
  return ((await response.json()) as { items: { sessionId: string; kind: string; details: Record<string, unknown>; resolvedAt: string | null }[] }).items;
}

test('the scheduler opens a session N minutes before it starts and closes it M minutes after it ends, each once and audited', async (t) => {
  const clock = clockAt('2026-09-01T04:00:00Z');
  const hub = await campusHub(t, clock);
  const id = await createSession(hub, '2026-09-01T05:00:00Z', '2026-09-01T05:50:00Z', 'R101');

  clock.set('2026-09-01T04:49:00Z');
  await hub.scheduler.runDue();
  assert.equal((await session(hub, id)).state, 'scheduled', 'eleven minutes before: not yet');
  clock.set('2026-09-01T04:50:00Z');
  await hub.scheduler.runDue();
  const opened = await session(hub, id);
  assert.equal(opened.state, 'open');
  assert.equal(opened.openedAt, '2026-09-01T04:50:00.000Z');

  clock.set('2026-09-01T05:59:00Z');
  await hub.scheduler.runDue();
  assert.equal((await session(hub, id)).state, 'open', 'nine minutes after the end: still open');
  clock.set('2026-09-01T06:00:00Z');
  await hub.scheduler.runDue();
  assert.equal((await session(hub, id)).state, 'closed');
  clock.set('2026-09-01T06:01:00Z');
  await hub.scheduler.runDue();
  assert.deepEqual(
    (await auditActions(hub, `session:${id}`)).filter((entry) => entry.action !== 'session.create'),
    [
      { action: 'session.open', actor: 'system:sessions.auto-open' },
      { action: 'session.close', actor: 'system:sessions.auto-close' },
      // Nobody marked it: the ledger's mark count is 0, so closing flags it as not taken.
      { action: 'session.flag.not_taken', actor: 'system:sessions.auto-close' },
    ],
  );
});

test('a session that was never opened in time is opened and closed by one late tick', async (t) => {
  const clock = clockAt('2026-09-01T04:00:00Z');
  const hub = await campusHub(t, clock);
  const id = await createSession(hub, '2026-09-01T04:10:00Z', '2026-09-01T04:20:00Z', 'R201');
  clock.set('2026-09-01T08:00:00Z');
  assert.deepEqual(await hub.scheduler.runDue(), ['sessions.auto-open', 'sessions.auto-close', 'sessions.finalize', 'sessions.escalate', 'corrections.escalate']);
  assert.equal((await session(hub, id)).state, 'closed');
});

test('illegal transitions answer 409 with a clear message and change nothing', async (t) => {
  const clock = clockAt('2026-09-01T04:00:00Z');
  const hub = await campusHub(t, clock);
  const id = await createSession(hub, '2026-09-01T05:00:00Z', '2026-09-01T05:50:00Z', 'R101');
  const act = async (action: string, body?: unknown) => {
    const response = await hub.api(`/api/v1/sessions/${id}/${action}`, body === undefined ? { method: 'POST' } : json('POST', body));
    return { status: response.status, body: (await response.json()) as { message?: string; state?: string } };
  };
  assert.deepEqual(await act('close').then((r) => [r.status, r.body.message]), [409, 'session is not open yet; open it before closing it']);
  assert.equal((await act('open')).status, 200);
  assert.deepEqual(await act('open').then((r) => [r.status, r.body.message]), [409, 'session is already open']);
  assert.equal((await act('close')).status, 200);
  assert.deepEqual(await act('open').then((r) => [r.status, r.body.message]), [409, 'session is closed; it cannot be opened again']);
  assert.deepEqual(await act('cancel', { reason: 'too late' }).then((r) => [r.status, r.body.message]), [409, 'session is closed; it cannot be cancelled']);
  assert.equal((await session(hub, id)).state, 'closed');

  const other = await createSession(hub, '2026-09-02T05:00:00Z', '2026-09-02T05:50:00Z', 'R101');
  const noReason = await hub.api(`/api/v1/sessions/${other}/cancel`, json('POST', {}));
  assert.equal(noReason.status, 400);
  assert.equal((await hub.api(`/api/v1/sessions/${other}/open`, { method: 'POST' })).status, 200);
  assert.equal((await hub.api(`/api/v1/sessions/${other}/cancel`, json('POST', { reason: 'fire drill' }))).status, 200);
  const cancelled = await session(hub, other);
  assert.deepEqual([cancelled.state, cancelled.cancelledReason], ['cancelled', 'fire drill']);
  assert.deepEqual(await hub.api(`/api/v1/sessions/${other}/close`, { method: 'POST' }).then(async (r) => [r.status, ((await r.json()) as { message: string }).message]), [
    409,
    'session is cancelled; it cannot be closed',
  ]);
  assert.deepEqual((await auditActions(hub, `session:${other}`)).map((entry) => entry.action), ['session.create', 'session.open', 'session.cancel']);

  const bad = await hub.api('/api/v1/sessions', json('POST', { groups: [{ sectionId: CAMPUS_IDS.theory }], startsAt: '2026-09-03T05:00:00Z', endsAt: '2026-09-03T04:00:00Z' }));
  assert.equal(bad.status, 400);
  assert.equal(((await bad.json()) as { details: { path: string } }).details.path, '/endsAt');
});

test('a closed session is finalized once every door device of its room has synced past its end plus grace, hooks run once', async (t) => {
  const clock = clockAt('2026-09-01T04:00:00Z');
  const hub = await campusHub(t, clock);
  const finalized: string[] = [];
  hub.sessions.onFinalize(async (tx, finalSession) => {
    finalized.push(finalSession.id);
    await tx.query('select 1');
  });
  // LAB1 has two doors: door-lab1 and door-lab1-back. End 05:50 + 15 min grace = 06:05.
  const id = await createSession(hub, '2026-09-01T05:00:00Z', '2026-09-01T05:50:00Z', 'LAB1', CAMPUS_IDS.practical);
  await hub.api(`/api/v1/sessions/${id}/open`, { method: 'POST' });
  clock.set('2026-09-01T05:55:00Z');
  await hub.api(`/api/v1/sessions/${id}/close`, { method: 'POST' });

  const client = await mqtt.connectAsync(hub.mqttUrl, { protocolVersion: 4, reconnectPeriod: 0 });
  t.after(() => client.endAsync());
  const topic = agentTopic({ campusId: 'main', agentId: 'agent-1' }, 'sync');
  const sync = (devices: { deviceId: string; upTo: string }[]) => client.publishAsync(topic, JSON.stringify({ v: 1, at: new Date(clock.now()).toISOString(), devices }), { qos: 1 });
  const watermark = async (deviceId: string) => {
    const { rows } = await hub.db.query<{ upTo: Date }>(`select up_to as "upTo" from device_watermarks where campus_id = 'main' and device_id = $1`, [deviceId]);
    return rows[0]?.upTo.toISOString();
  };

  clock.set('2026-09-01T06:10:00Z');
  await sync([{ deviceId: 'door-lab1', upTo: '2026-09-01T06:10:00Z' }]);
  await waitFor(async () => (await watermark('door-lab1')) === '2026-09-01T06:10:00.000Z', { message: 'the first watermark' });
  await hub.scheduler.runDue();
  assert.equal((await session(hub, id)).finalizedAt, null, 'the back door has not synced');

  await sync([{ deviceId: 'door-lab1-back', upTo: '2026-09-01T06:04:59Z' }]);
  await waitFor(async () => (await watermark('door-lab1-back')) === '2026-09-01T06:04:59.000Z', { message: 'the back door watermark' });
  clock.set('2026-09-01T06:11:00Z');
  await hub.scheduler.runDue();
  assert.equal((await session(hub, id)).finalizedAt, null, 'one second short of end + grace');

  // Watermarks never go backwards, and one ahead of the hub's clock counts as the hub's clock.
  await sync([{ deviceId: 'door-lab1', upTo: '2026-09-01T05:00:00Z' }, { deviceId: 'door-lab1-back', upTo: '2027-01-01T00:00:00Z' }]);
  await waitFor(async () => (await watermark('door-lab1-back')) === '2026-09-01T06:11:00.000Z', { message: 'the back door to catch up' });
  assert.equal(await watermark('door-lab1'), '2026-09-01T06:10:00.000Z');
  clock.set('2026-09-01T06:12:00Z');
  await hub.scheduler.runDue();
  const final = await session(hub, id);
  assert.deepEqual([final.finalizedAt, final.finalizedBy], ['2026-09-01T06:12:00.000Z', 'watermarks']);
  clock.set('2026-09-01T06:13:00Z');
  await hub.scheduler.runDue();
  assert.deepEqual(finalized, [id], 'the hook ran once');
  assert.deepEqual((await flags(hub, `&sessionId=${id}`)).map((flag) => flag.kind), ['not_taken'], 'no finalize_timeout flag; closed unmarked, it is not taken');

  const before = await hub.metric('campushub_ingest_rejected_messages_total', { reason: 'schema' });
  await client.publishAsync(topic, JSON.stringify({ v: 1, at: 'yesterday', devices: [] }), { qos: 1 });
  await waitFor(async () => (await hub.metric('campushub_ingest_rejected_messages_total', { reason: 'schema' })) > before, { message: 'the bad sync message to be refused' });
});

test('a closed session whose devices do not all sync is finalized at the timeout with a flag naming them', async (t) => {
  const clock = clockAt('2026-09-01T04:00:00Z');
  const hub = await campusHub(t, clock);
  const id = await createSession(hub, '2026-09-01T05:00:00Z', '2026-09-01T05:50:00Z', 'LAB1', CAMPUS_IDS.practical);
  await hub.db.query(`insert into device_watermarks (campus_id, device_id, up_to, reported_at) values ('main', 'door-lab1', '2026-09-01T07:00:00Z', '2026-09-01T07:00:00Z')`);
  clock.set('2026-09-01T06:00:00Z');
  await hub.scheduler.runDue();
  assert.equal((await session(hub, id)).state, 'closed');
  clock.set('2026-09-01T07:49:00Z');
  await hub.scheduler.runDue();
  assert.equal((await session(hub, id)).finalizedAt, null, 'one minute before the timeout');
  clock.set('2026-09-01T07:50:00Z');
  await hub.scheduler.runDue();
  const final = await session(hub, id);
  assert.equal(final.finalizedBy, 'timeout');
  const flag = (await flags(hub, `&sessionId=${id}`)).find((candidate) => candidate.kind === 'finalize_timeout');
  assert.deepEqual(flag!.details.devicesNotSynced, [{ deviceId: 'door-lab1-back', upTo: null }]);
  assert.deepEqual((await auditActions(hub, `session:${id}`)).map((entry) => entry.action), ['session.create', 'session.open', 'session.close', 'session.flag.not_taken', 'session.finalize']);
});

test('a session closed without marks is flagged to its teacher, escalated to the HOD after the delay, and resolved if marks come first', async (t) => {
  const clock = clockAt('2026-09-01T04:00:00Z');
  const hub = await campusHub(t, clock);
  const marks = new Map<string, number>();
  hub.sessions.setMarkCounter(async (_tx, sessionId) => marks.get(sessionId) ?? 0);
  const hod = await createTestUser(hub, { role: 'hod', departmentId: 'cs' });
  const hodEe = await createTestUser(hub, { role: 'hod', departmentId: 'ee' });
  const teacher = await createTestUser(hub, { role: 'faculty', departmentId: 'cs' });
  await linkUser(hub.db, 'faculty', CAMPUS_IDS.facultyCs, teacher.id);
  const student = await createTestUser(hub, { role: 'student', departmentId: 'cs' });
  await linkUser(hub.db, 'student', CAMPUS_IDS.students[0]!, student.id);

  const untaken = await createSession(hub, '2026-09-01T05:00:00Z', '2026-09-01T05:50:00Z', 'R101');
  const takenLate = await createSession(hub, '2026-09-01T06:00:00Z', '2026-09-01T06:50:00Z', 'R101');
  const taken = await createSession(hub, '2026-09-01T07:00:00Z', '2026-09-01T07:50:00Z', 'R101');
  marks.set(taken, 3);
  clock.set('2026-09-01T08:00:00Z');
  await hub.scheduler.runDue();
  const notTaken = await flags(hub, '&kind=not_taken');
  assert.deepEqual(notTaken.map((flag) => flag.sessionId).sort(), [untaken, takenLate].sort());
  assert.equal(notTaken[0]!.details.facultyId, CAMPUS_IDS.facultyCs);

  // Who sees the flags: the teacher and the HOD of the department, not another HOD, not students.
  // The hub's clock moved on past their access tokens' lifetime.
  for (const user of [teacher, hod, hodEe, student]) await user.login();
  const seenBy = async (user: { api(path: string): Promise<Response> }) => ((await (await user.api('/api/v1/session-flags?kind=not_taken')).json()) as { items: unknown[] }).items.length;
  assert.equal(await seenBy(teacher), 2);
  assert.equal(await seenBy(hod), 2);
  assert.equal(await seenBy(hodEe), 0);
  assert.equal(await seenBy(student), 0);

  marks.set(takenLate, 1);
  clock.set('2026-09-02T07:00:00Z');
  await hub.scheduler.runDue();
  assert.deepEqual(await flags(hub, '&kind=escalated'), [], 'not yet a day');
  clock.set('2026-09-02T08:00:00Z');
  await hub.scheduler.runDue();
  const escalated = await flags(hub, '&kind=escalated');
  assert.deepEqual(escalated.map((flag) => flag.sessionId), [untaken]);
  assert.deepEqual(escalated[0]!.details, { departmentIds: ['cs'], hodUserIds: [hod.id] });
  const resolved = await flags(hub, '&kind=not_taken&open=false');
  assert.deepEqual(resolved.map((flag) => flag.sessionId), [takenLate]);
  clock.set('2026-09-03T08:00:00Z');
  await hub.scheduler.runDue();
  assert.equal((await flags(hub, '&kind=escalated')).length, 1, 'escalated once');
});

test('sessions are listed by scope, filtered and paged with an opaque cursor', async (t) => {
  const clock = clockAt('2026-09-01T00:00:00Z');
  const hub = await campusHub(t, clock);
  const response = await hub.api('/api/v1/sessions/generate', json('POST', { termId: '2026-odd', from: '2026-09-14', to: '2026-09-20' }));
  assert.equal(response.status, 200);
  const student = await createTestUser(hub, { role: 'student', departmentId: 'cs' });
  // Diya is in lab batch 1: Tuesday's lab is hers, Thursday's (batch 2) is not.
  await linkUser(hub.db, 'student', CAMPUS_IDS.students[1]!, student.id);
  const hodEe = await createTestUser(hub, { role: 'hod', departmentId: 'ee' });
  const list = async (user: { api(path: string): Promise<Response> }, query: string) => {
    const items: { groups: { sectionId: string; subgroupId: string | null }[]; roomId: string }[] = [];
    let cursor: string | null = null;
    do {
      const page = (await (await user.api(`/api/v1/sessions?limit=2${query}${cursor ? `&cursor=${cursor}` : ''}`)).json()) as { items: typeof items; nextCursor: string | null };
      items.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    return items;
  };
  const mine = await list(student, '');
  assert.equal(mine.length, 3, 'theory Wed and Fri (Monday is the campus holiday) and the batch 1 lab');
  assert.ok(!mine.some((item) => item.groups.some((group) => group.subgroupId === CAMPUS_IDS.labBatch2)));
  assert.equal((await list(hodEe, '')).length, 1, 'EE on Thursday; Monday is the campus holiday');
  assert.equal((await list(hub, '&roomId=LAB1')).length, 2);
  assert.equal((await list(hub, `&sectionId=${CAMPUS_IDS.eeTheory}&from=2026-09-16T00:00:00Z`)).length, 1);
  // Tuesday 15 September in Kolkata: the batch 1 lab only (the 09:00 theory classes are on Monday, Wednesday and Friday).
  assert.equal((await list(hub, '&date=2026-09-15')).length, 1);
  assert.equal((await list(hub, '&date=2026-09-16')).length, 1);
  assert.equal((await hub.api('/api/v1/sessions?cursor=bogus')).status, 400);
  assert.equal((await hub.api('/api/v1/sessions?date=2026-02-30')).status, 400);
  assert.equal((await student.api('/api/v1/sessions', json('POST', { groups: [{ sectionId: CAMPUS_IDS.theory }], startsAt: '2026-09-03T05:00:00Z', endsAt: '2026-09-03T06:00:00Z' }))).status, 403);
});
