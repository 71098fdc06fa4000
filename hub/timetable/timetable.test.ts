import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { CAMPUS_IDS, seedSmallCampus } from '../../test/support/campus.js';
import { startTestHub, type TestHub } from '../../test/support/hub.js';

/** The small campus's slots (fixtures/campus/small.ts). */
const SLOTS = {
  theoryMon: '00000000-0000-4000-8000-000000000101',
  theoryWed: '00000000-0000-4000-8000-000000000111',
  theoryFri: '00000000-0000-4000-8000-000000000121',
  labTue: '00000000-0000-4000-8000-000000000201',
  eeMon: '00000000-0000-4000-8000-000000000301',
  eeThu: '00000000-0000-4000-8000-000000000311',
};

interface Session {
  id: string;
  startsAt: string;
  endsAt: string;
  roomId: string | null;
  facultyId: string | null;
  state: string;
  origin: string;
  cancelledReason: string | null;
  slotId: string | null;
  slotDate: string | null;
  groups: { sectionId: string; subgroupId: string | null }[];
}

interface Clock {
  set(iso: string): void;
  now(): number;
}

function clockAt(iso: string): Clock {
  let current = Date.parse(iso);
  return { set: (next) => void (current = Date.parse(next)), now: () => current };
}

async function campusHub(t: TestContext, clock: Clock): Promise<TestHub> {
  const hub = await startTestHub(t, { scheduler: { intervalMs: 0 } }, { now: clock.now });
  await seedSmallCampus(hub.db);
  return hub;
}

const json = (method: string, body: unknown): RequestInit => ({ method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function generate(hub: TestHub, from: string, to: string): Promise<Record<string, number>> {
  const response = await hub.api('/api/v1/sessions/generate', json('POST', { termId: '2026-odd', from, to }));
  assert.equal(response.status, 200, await response.clone().text());
  return (await response.json()) as Record<string, number>;
}

async function allSessions(hub: TestHub): Promise<Session[]> {
  const response = await hub.api('/api/v1/sessions?limit=500');
  assert.equal(response.status, 200);
  return ((await response.json()) as { items: Session[] }).items;
}

const occurrence = (sessions: Session[], slotId: string, date: string) => sessions.find((session) => session.slotId === slotId && session.slotDate === date);

test('generation follows the weekly timetable in local time and skips institution and campus holidays, not other campuses\' ones', async (t) => {
  const clock = clockAt('2026-09-01T00:00:00Z');
  const hub = await campusHub(t, clock);
  await hub.db.query(`insert into campuses (id, institution_id, name) values ('north', 'demo-univ', 'North campus')`);
  await hub.db.query(`insert into holidays (id, campus_id, on_date, name) values (gen_random_uuid(), 'north', '2026-09-16', 'North campus day')`);

  // Three weeks from Monday 14 September: 7 slots a week = 21, less 14 Sept (campus holiday: 2) and 2 Oct (institution holiday: 1).
  const result = await generate(hub, '2026-09-14', '2026-10-02');
  assert.deepEqual(result, { created: 18, updated: 0, removed: 0, unchanged: 0, skippedPast: 0 });
  const sessions = await allSessions(hub);
  assert.equal(sessions.length, 18);
  assert.ok(!sessions.some((session) => session.slotDate === '2026-09-14' || session.slotDate === '2026-10-02'));
  assert.ok(occurrence(sessions, SLOTS.theoryWed, '2026-09-16'), 'a holiday of another campus does not apply');

  const lab = occurrence(sessions, SLOTS.labTue, '2026-09-15')!;
  assert.equal(lab.startsAt, '2026-09-15T08:30:00.000Z', '14:00 in Asia/Kolkata');
  assert.equal(lab.endsAt, '2026-09-15T10:30:00.000Z');
  assert.equal(lab.roomId, 'LAB1');
  assert.equal(lab.origin, 'timetable');
  assert.deepEqual(lab.groups, [{ sectionId: CAMPUS_IDS.practical, subgroupId: CAMPUS_IDS.labBatch1 }]);

  assert.deepEqual(await generate(hub, '2026-09-14', '2026-10-02'), { created: 0, updated: 0, removed: 0, unchanged: 18, skippedPast: 0 }, 'generating again duplicates nothing');
  assert.equal((await allSessions(hub)).length, 18);
  const { rows } = await hub.db.query<{ count: number }>(`select count(*)::int as count from audit_log where action = 'sessions.generate'`);
  assert.equal(rows[0]!.count, 2);
});

test('generation stays within the term and the slot\'s effective dates, and never creates the past', async (t) => {
  const clock = clockAt('2026-08-05T04:00:00Z');
  const hub = await campusHub(t, clock);
  await hub.db.query(`update timetable_slots set effective_to = '2026-08-12' where id = $1`, [SLOTS.theoryWed]);
  // The term starts on Monday 3 August and ends on Friday 20 November.
  const early = await generate(hub, '2026-07-27', '2026-08-16');
  const sessions = await allSessions(hub);
  assert.ok(sessions.every((session) => session.slotDate! >= '2026-08-03'));
  // Mon 3, Tue 4 and Wed 5 at 09:00 IST (03:30Z) have started by 04:00Z: skipped.
  assert.ok(!sessions.some((session) => session.slotDate! < '2026-08-05' || (session.slotDate === '2026-08-05' && session.slotId === SLOTS.theoryWed)));
  assert.equal(early.skippedPast, 4, 'theory Mon, EE Mon, lab Tue, theory Wed');
  assert.ok(occurrence(sessions, SLOTS.theoryWed, '2026-08-12'));
  await generate(hub, '2026-08-17', '2026-08-31');
  assert.ok(!(await allSessions(hub)).some((session) => session.slotId === SLOTS.theoryWed && session.slotDate! > '2026-08-12'), 'effective_to ends the slot');
  const late = await generate(hub, '2026-11-16', '2026-11-30');
  assert.ok(!(await allSessions(hub)).some((session) => session.slotDate! > '2026-11-20'), 'nothing after the term');
  assert.equal(late.created, 6, 'the last week: theory Mon and Fri, EE Mon and Thu, both labs');
});

test('timetable changes: cancelled, rescheduled, substitute and extra reach generated sessions at once', async (t) => {
  const clock = clockAt('2026-09-01T00:00:00Z');
  const hub = await campusHub(t, clock);
  await generate(hub, '2026-09-14', '2026-09-20');

  const post = async (body: Record<string, unknown>) => {
    const response = await hub.api('/api/v1/timetable/changes', json('POST', body));
    assert.equal(response.status, 201, await response.clone().text());
    return (await response.json()) as { id: string };
  };
  await post({ kind: 'cancelled', slotId: SLOTS.theoryWed, onDate: '2026-09-16', reason: 'teacher at a conference' });
  await post({ kind: 'rescheduled', slotId: SLOTS.theoryFri, onDate: '2026-09-18', newStartsAt: '11:00', newEndsAt: '11:50', newRoomId: 'R201' });
  await post({ kind: 'substitute', slotId: SLOTS.eeThu, onDate: '2026-09-17', substituteFacultyId: CAMPUS_IDS.facultyCs2 });
  const extra = await post({ kind: 'extra', sectionId: CAMPUS_IDS.theory, newDate: '2026-09-19', newStartsAt: '09:00', newEndsAt: '09:50', newRoomId: 'R101', reason: 'make-up class' });

  const sessions = await allSessions(hub);
  const cancelled = occurrence(sessions, SLOTS.theoryWed, '2026-09-16')!;
  assert.equal(cancelled.state, 'cancelled');
  assert.equal(cancelled.cancelledReason, 'teacher at a conference');
  const moved = occurrence(sessions, SLOTS.theoryFri, '2026-09-18')!;
  assert.equal(moved.startsAt, '2026-09-18T05:30:00.000Z');
  assert.equal(moved.roomId, 'R201');
  assert.equal(occurrence(sessions, SLOTS.eeThu, '2026-09-17')!.facultyId, CAMPUS_IDS.facultyCs2);
  const extraSession = sessions.find((session) => session.origin === 'extra')!;
  assert.equal(extraSession.startsAt, '2026-09-19T03:30:00.000Z');
  assert.deepEqual(extraSession.groups, [{ sectionId: CAMPUS_IDS.theory, subgroupId: null }]);
  assert.ok(extra.id);

  assert.equal((await generate(hub, '2026-09-14', '2026-09-20')).created, 0, 'the extra class is made once');
  assert.equal((await allSessions(hub)).length, sessions.length);

  const again = await hub.api('/api/v1/timetable/changes', json('POST', { kind: 'cancelled', slotId: SLOTS.theoryWed, onDate: '2026-09-16', reason: 'twice' }));
  assert.equal(again.status, 409);
  const notAnOccurrence = await hub.api('/api/v1/timetable/changes', json('POST', { kind: 'cancelled', slotId: SLOTS.theoryWed, onDate: '2026-09-17', reason: 'a Thursday' }));
  assert.equal(notAnOccurrence.status, 400);
  assert.equal(((await notAnOccurrence.json()) as { details: { path: string } }).details.path, '/onDate');
  const noReason = await hub.api('/api/v1/timetable/changes', json('POST', { kind: 'cancelled', slotId: SLOTS.theoryWed, onDate: '2026-09-23' }));
  assert.equal(noReason.status, 400);
  assert.equal(((await noReason.json()) as { details: { path: string } }).details.path, '/reason');
  const { rows } = await hub.db.query<{ action: string }>(`select action from audit_log where action like 'timetable.change.%' order by id`);
  assert.deepEqual(rows.map((row) => row.action), ['timetable.change.cancelled', 'timetable.change.rescheduled', 'timetable.change.substitute', 'timetable.change.extra']);
});

test('a timetable edit moves only future scheduled sessions; open, closed and past ones keep what they were', async (t) => {
  const clock = clockAt('2026-09-01T00:00:00Z');
  const hub = await campusHub(t, clock);
  await generate(hub, '2026-09-14', '2026-09-27');
  let sessions = await allSessions(hub);
  const openOne = occurrence(sessions, SLOTS.theoryWed, '2026-09-16')!;
  assert.equal((await hub.api(`/api/v1/sessions/${openOne.id}/open`, { method: 'POST' })).status, 200);
  // Tuesday 15 September 15:30 in Kolkata: the lab of that afternoon has started.
  clock.set('2026-09-15T10:00:00Z');

  const patchLab = await hub.api(`/api/v1/timetable/slots/${SLOTS.labTue}`, json('PATCH', { startsAt: '14:30', endsAt: '16:30', reason: 'lab moved' }));
  assert.equal(patchLab.status, 200, await patchLab.clone().text());
  const patchTheory = await hub.api(`/api/v1/timetable/slots/${SLOTS.theoryWed}`, json('PATCH', { startsAt: '10:00', endsAt: '10:50', roomId: 'LAB1' }));
  assert.equal(patchTheory.status, 200, await patchTheory.clone().text());

  sessions = await allSessions(hub);
  assert.equal(occurrence(sessions, SLOTS.labTue, '2026-09-15')!.startsAt, '2026-09-15T08:30:00.000Z', 'past: unchanged');
  assert.equal(occurrence(sessions, SLOTS.labTue, '2026-09-22')!.startsAt, '2026-09-22T09:00:00.000Z', 'future: follows');
  const stillOpen = occurrence(sessions, SLOTS.theoryWed, '2026-09-16')!;
  assert.equal(stillOpen.state, 'open');
  assert.equal(stillOpen.startsAt, '2026-09-16T03:30:00.000Z', 'open: unchanged');
  assert.equal(stillOpen.roomId, 'R101');
  const moved = occurrence(sessions, SLOTS.theoryWed, '2026-09-23')!;
  assert.equal(moved.startsAt, '2026-09-23T04:30:00.000Z');
  assert.equal(moved.roomId, 'LAB1');

  // The slot ends early: its future scheduled sessions go; the open one stays.
  const shorten = await hub.api(`/api/v1/timetable/slots/${SLOTS.theoryWed}`, json('PATCH', { effectiveTo: '2026-09-20' }));
  assert.equal(shorten.status, 200);
  sessions = await allSessions(hub);
  assert.equal(occurrence(sessions, SLOTS.theoryWed, '2026-09-23'), undefined);
  assert.ok(occurrence(sessions, SLOTS.theoryWed, '2026-09-16'));

  const removed = await hub.api(`/api/v1/timetable/slots/${SLOTS.eeThu}`, { method: 'DELETE' });
  assert.equal(removed.status, 204);
  sessions = await allSessions(hub);
  assert.ok(!sessions.some((session) => session.slotId === SLOTS.eeThu));
  assert.equal((await hub.api(`/api/v1/timetable?termId=2026-odd&limit=100`).then((r) => r.json()) as { items: unknown[] }).items.length, 6);
  const lab1 = (await hub.api(`/api/v1/timetable?roomId=LAB1&limit=1`).then((r) => r.json())) as { items: { id: string }[]; nextCursor: string };
  const lab1Next = (await hub.api(`/api/v1/timetable?roomId=LAB1&limit=1&cursor=${lab1.nextCursor}`).then((r) => r.json())) as { items: { id: string }[]; nextCursor: string | null };
  // LAB1: the two lab slots, and now the Wednesday theory slot too.
  assert.equal(lab1.items.length + lab1Next.items.length, 2);
  assert.ok(lab1Next.nextCursor, 'a third page');
});

test('a slot that meets another in the same room, with the same teacher or the same students is refused with 409; bad input with 400 and the path', async (t) => {
  const clock = clockAt('2026-09-01T00:00:00Z');
  const hub = await campusHub(t, clock);
  const slot = (overrides: Record<string, unknown>) => ({
    termId: '2026-odd',
    weekday: 1,
    startsAt: '09:20',
    endsAt: '10:10',
    effectiveFrom: '2026-08-03',
    groups: [{ sectionId: CAMPUS_IDS.eeTheory }],
    ...overrides,
  });
  const attempt = async (body: unknown) => {
    const response = await hub.api('/api/v1/timetable/slots', json('POST', body));
    return { status: response.status, body: (await response.json()) as { error?: string; details?: { clash?: string; path?: string } } };
  };
  const before = (await hub.db.query('select id from timetable_slots')).rows.length;
  // EE201 meets on Monday 10:00–10:50 in R201; CS301 theory on Monday 09:00–09:50 in R101 with Dr. Rao.
  assert.equal((await attempt(slot({ roomId: 'R101', startsAt: '09:20', endsAt: '09:40', groups: [{ sectionId: CAMPUS_IDS.practical }] }))).body.details?.clash, 'room');
  assert.equal((await attempt(slot({ facultyId: CAMPUS_IDS.facultyCs, startsAt: '09:20', endsAt: '09:40', groups: [{ sectionId: CAMPUS_IDS.practical }] }))).body.details?.clash, 'teacher');
  assert.equal((await attempt(slot({}))).body.details?.clash, 'group');
  // Lab batch 1 meets on Tuesday 14:00; batch 2 may take another room then, batch 1 may not.
  const tuesday = { weekday: 2, startsAt: '14:00', endsAt: '15:00', roomId: 'R201' };
  assert.equal((await attempt(slot({ ...tuesday, groups: [{ sectionId: CAMPUS_IDS.practical, subgroupId: CAMPUS_IDS.labBatch1 }] }))).status, 409);
  // After the EE slot's effective dates end, the same time is free.
  assert.equal((await attempt(slot({ effectiveFrom: '2026-12-01' }))).status, 201);
  assert.equal((await attempt(slot({ ...tuesday, groups: [{ sectionId: CAMPUS_IDS.practical, subgroupId: CAMPUS_IDS.labBatch2 }] }))).status, 201);

  const invalid = await attempt(slot({ weekday: 3, startsAt: '11:00', endsAt: '10:00' }));
  assert.deepEqual([invalid.status, invalid.body.details?.path], [400, '/endsAt']);
  const unknown = await attempt(slot({ weekday: 3, groups: [{ sectionId: '00000000-0000-4000-8000-00000000dead' }] }));
  assert.deepEqual([unknown.status, unknown.body.details?.path], [400, '/groups/0/sectionId']);
  const badWeekday = await hub.api('/api/v1/timetable/slots', json('POST', slot({ weekday: 8 })));
  assert.equal(badWeekday.status, 400);
  assert.equal((await hub.db.query('select id from timetable_slots')).rows.length, before + 2, 'only the two good slots were added');
});
