import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { addDays, daysBetween, isoWeekday, localDateOf, localToInstant } from './localTime.js';

test('a timetable time in Asia/Kolkata is 5:30 ahead of UTC', () => {
  assert.equal(localToInstant('2026-08-03', '09:00', 'Asia/Kolkata').toISOString(), '2026-08-03T03:30:00.000Z');
  assert.equal(localToInstant('2026-08-03', '00:15:00', 'Asia/Kolkata').toISOString(), '2026-08-02T18:45:00.000Z');
  assert.equal(localDateOf(new Date('2026-08-02T18:45:00Z'), 'Asia/Kolkata'), '2026-08-03');
});

test('daylight saving time: the gap moves forward, the overlap takes the first instant', () => {
  assert.equal(localToInstant('2026-03-29', '02:30', 'Europe/Berlin').toISOString(), '2026-03-29T01:30:00.000Z');
  assert.equal(localToInstant('2026-10-25', '02:30', 'Europe/Berlin').toISOString(), '2026-10-25T00:30:00.000Z');
  assert.equal(localToInstant('2026-07-01', '09:00', 'Europe/Berlin').toISOString(), '2026-07-01T07:00:00.000Z');
});

test('weekdays and day arithmetic', () => {
  assert.equal(isoWeekday('2026-08-03'), 1);
  assert.equal(isoWeekday('2026-08-09'), 7);
  assert.equal(addDays('2026-12-31', 1), '2027-01-01');
  assert.equal(daysBetween('2026-08-03', '2026-08-03'), 1);
  assert.equal(daysBetween('2026-08-03', '2026-09-02'), 31);
});

test('property: every instant maps to a local date and time that maps back to it (outside overlaps)', () => {
  const zones = ['Asia/Kolkata', 'Europe/Berlin', 'America/New_York', 'Australia/Adelaide', 'UTC'];
  fc.assert(
    fc.property(fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2040, 0, 1) }), fc.constantFrom(...zones), (ms, zone) => {
      const instant = new Date(ms - (ms % 60_000));
      const date = localDateOf(instant, zone);
      const time = new Intl.DateTimeFormat('en-GB', { timeZone: zone, hourCycle: 'h23', hour: '2-digit', minute: '2-digit' }).format(instant);
      const back = localToInstant(date, time, zone);
      // In an overlap the earlier of the two instants comes back: equal, or exactly one offset change (≤ 1 h) earlier.
      const difference = instant.getTime() - back.getTime();
      assert.ok(difference === 0 || (difference > 0 && difference <= 3_600_000), `${instant.toISOString()} ${zone} -> ${date} ${time} -> ${back.toISOString()}`);
      assert.equal(localDateOf(back, zone), date);
    }),
    { numRuns: 2000 },
  );
});

test('property: ISO weekdays advance by one each day', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 40_000 }), (offset) => {
      const date = addDays('2000-01-01', offset);
      assert.equal(isoWeekday(addDays(date, 1)), (isoWeekday(date) % 7) + 1);
      assert.equal(daysBetween('2000-01-01', date), offset + 1);
    }),
  );
});
