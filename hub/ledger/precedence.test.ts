import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ATTENDANCE_STATUSES, MARK_SOURCES, outranks, project, type AttendanceStatus, type MarkSource, type RankedEvent } from './precedence.js';

let sequence = 0;
function event(source: MarkSource, status: AttendanceStatus, recordedAt: number, tappedAt: number | null = null): RankedEvent {
  sequence += 1;
  return { id: `0190${String(sequence).padStart(8, '0')}`, source, status, recordedAt, tappedAt: ['qr', 'biometric', 'card'].includes(source) ? (tappedAt ?? recordedAt) : null };
}

/** The documented order, strongest first, written out independently of the module's table. */
const DOCUMENTED_ORDER: MarkSource[][] = [['correction'], ['manual'], ['bulk'], ['qr', 'biometric', 'card'], ['leave'], ['automatic']];
const levelOf = (source: MarkSource) => DOCUMENTED_ORDER.findIndex((level) => level.includes(source));

test('between levels the stronger source decides, whichever arrived first', () => {
  for (const stronger of MARK_SOURCES) {
    for (const weaker of MARK_SOURCES) {
      if (levelOf(stronger) >= levelOf(weaker)) continue;
      const strong = event(stronger, stronger === 'leave' ? 'excused' : 'absent', 1000);
      const weak = event(weaker, weaker === 'automatic' ? 'absent' : 'present', 2000);
      assert.equal(project([strong, weak]), strong, `${stronger} over a later ${weaker}`);
      assert.equal(project([weak, strong]), strong, `${stronger} over an earlier ${weaker}`);
    }
  }
});

test('manual, bulk, correction and leave: the later decision wins', () => {
  for (const source of ['manual', 'bulk', 'correction', 'leave'] as const) {
    const first = event(source, 'absent', 1000);
    const second = event(source, 'present', 2000);
    assert.equal(project([first, second]), second, source);
    assert.equal(project([second, first]), second, `${source}, arriving out of order`);
  }
});

test('taps: the first tap decides; a later tap neither downgrades present to late nor upgrades late to present', () => {
  const present = event('biometric', 'present', 5000, 1000);
  const late = event('qr', 'late', 4000, 2000);
  assert.equal(project([present, late]), present);
  assert.equal(project([late, present]), present, 'the earlier tap wins even when it arrives later (a device syncing late)');
  const lateFirst = event('card', 'late', 1000, 1000);
  const presentAfter = event('biometric', 'present', 2000, 2000);
  assert.equal(project([lateFirst, presentAfter]), lateFirst);
});

test('a leave applies to unmarked and automatically absent students, never over present or late', () => {
  const leave = event('leave', 'excused', 3000);
  assert.equal(project([leave]), leave);
  const automatic = event('automatic', 'absent', 1000);
  assert.equal(project([automatic, leave]), leave);
  assert.equal(project([leave, automatic]), leave);
  for (const status of ['present', 'late'] as const) {
    const tap = event('qr', status, 2000);
    assert.equal(project([tap, leave]), tap, `leave after a ${status} tap`);
    assert.equal(project([leave, tap]), tap, `${status} tap after a leave`);
  }
  const onDuty = event('leave', 'on_duty', 4000);
  assert.equal(project([leave, onDuty]), onDuty, 'the latest leave decision wins');
});

test('the same event twice changes nothing', () => {
  const manual = event('manual', 'present', 1000);
  assert.equal(outranks(manual, manual), false);
});

const eventArbitrary = fc.record({
  source: fc.constantFrom(...MARK_SOURCES),
  status: fc.constantFrom(...ATTENDANCE_STATUSES),
  recordedAt: fc.integer({ min: 0, max: 50 }),
  tappedAt: fc.integer({ min: 0, max: 50 }),
});
const eventsArbitrary = fc.uniqueArray(eventArbitrary, { minLength: 1, maxLength: 25, selector: (e) => JSON.stringify(e) }).map((specs) =>
  specs.map((spec, index) => ({ ...spec, id: `id-${String(index).padStart(3, '0')}`, tappedAt: ['qr', 'biometric', 'card'].includes(spec.source) ? spec.tappedAt : null })),
);

/** The rule stated as a specification: the strongest level; within it the latest decision, or the first tap. */
function specifiedWinner(events: readonly RankedEvent[]): RankedEvent {
  const strongest = Math.min(...events.map((e) => levelOf(e.source)));
  const candidates = events.filter((e) => levelOf(e.source) === strongest);
  const firstWins = strongest === levelOf('qr') || strongest === levelOf('automatic');
  const key = (e: RankedEvent) => [firstWins ? (e.tappedAt ?? e.recordedAt) : e.recordedAt, e.id] as const;
  return [...candidates].sort((a, b) => {
    const [ta, ia] = key(a);
    const [tb, ib] = key(b);
    const order = ta !== tb ? ta - tb : ia < ib ? -1 : 1;
    return firstWins ? order : -order;
  })[0]!;
}

test('property: folding the rule over any arrival order gives the specified winner', () => {
  fc.assert(
    fc.property(eventsArbitrary, fc.func(fc.integer()), (events, shuffleKey) => {
      const arrival = [...events].sort((a, b) => shuffleKey(a.id) - shuffleKey(b.id));
      assert.equal(project(arrival), specifiedWinner(events));
      assert.equal(project(arrival), project(events));
    }),
    { numRuns: 500 },
  );
});

test('property: a leave never replaces a present or late tap', () => {
  fc.assert(
    fc.property(eventsArbitrary, (events) => {
      const winner = project(events)!;
      if (winner.source === 'leave') assert.ok(!events.some((e) => ['qr', 'biometric', 'card'].includes(e.source)));
    }),
  );
});

test('a revoked event and its revocation take no part: the record is what it would have been without them', () => {
  const automatic = event('automatic', 'absent', 1000);
  const leave = event('leave', 'excused', 2000);
  const revocation: RankedEvent = { ...event('leave', 'excused', 3000), revokes: leave.id };
  assert.equal(project([automatic, leave, revocation]), automatic);
  assert.equal(project([revocation, leave, automatic]), automatic, 'in any arrival order');
  assert.equal(project([leave, revocation]), null, 'nothing left: unmarked');
  assert.equal(outranks(revocation, null), false, 'a revocation never decides');
  const correction = event('correction', 'present', 2500);
  assert.equal(project([automatic, leave, correction, revocation]), correction, 'revoking a leave leaves a correction standing');
  const secondLeave = event('leave', 'on_duty', 4000);
  assert.equal(project([automatic, leave, revocation, secondLeave]), secondLeave, 'a later leave of the same record still applies');
});

test('property: revoking events in any arrival order decides as if they had never been recorded', () => {
  fc.assert(
    fc.property(eventsArbitrary, fc.func(fc.boolean()), fc.func(fc.integer()), (events, revokedKey, shuffleKey) => {
      const revoked = events.filter((e) => revokedKey(e.id));
      const revocations: RankedEvent[] = revoked.map((e) => ({ ...e, id: `rev-${e.id}`, recordedAt: e.recordedAt + 100, revokes: e.id }));
      const arrival = [...events, ...revocations].sort((a, b) => shuffleKey(a.id) - shuffleKey(b.id));
      const kept = events.filter((e) => !revoked.includes(e));
      assert.equal(project(arrival), kept.length === 0 ? null : specifiedWinner(kept));
    }),
    { numRuns: 500 },
  );
});
