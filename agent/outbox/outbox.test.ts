import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { uuidv7, type TapEvent } from '../../protocol/index.js';
import { InvalidEventError, Outbox, readOutboxRow } from './outbox.js';

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'campushub-outbox-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function scan(subject: string) {
  return { method: 'qr' as const, subject, deviceTime: null };
}

function tap(subject = '2025CS001'): TapEvent {
  return { id: uuidv7(), kind: 'tap', deviceId: 'door-1', method: 'qr', subject, deviceTime: null, receivedAt: new Date().toISOString() };
}

test('the outbox runs in WAL mode with synchronous=FULL', (t) => {
  const dir = tempDir(t);
  const outbox = new Outbox(dir);
  t.after(() => outbox.close());
  assert.deepEqual(outbox.durability(), { journalMode: 'wal', synchronous: 'full' });
  const raw = new Database(join(dir, 'outbox.sqlite'), { readonly: true });
  t.after(() => raw.close());
  assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal', 'WAL is a property of the file, seen by every connection');
});

test('an event that breaks the schema is refused and nothing is stored', (t) => {
  const outbox = new Outbox(tempDir(t));
  t.after(() => outbox.close());
  assert.throws(() => outbox.enqueue({ ...tap(), subject: '' }), InvalidEventError);
  assert.throws(() => outbox.enqueueMany([tap(), { ...tap(), deviceId: 'door 1' }]), InvalidEventError);
  assert.equal(outbox.stats().depth, 0);
});

test('events leave only when acknowledged as committed, and rejected ones move to quarantine with their reason', (t) => {
  const outbox = new Outbox(tempDir(t));
  t.after(() => outbox.close());
  const events = [tap('a'), tap('b'), tap('c')];
  outbox.enqueueMany(events);
  assert.deepEqual(outbox.after(0, 10).map((row) => row.id), events.map((event) => event.id));
  outbox.settle([events[0]!.id], [{ id: events[1]!.id, reason: 'schema: /subject' }]);
  assert.deepEqual(outbox.after(0, 10).map((row) => row.id), [events[2]!.id]);
  assert.deepEqual(outbox.listQuarantine(10).map(({ id, reason }) => ({ id, reason })), [{ id: events[1]!.id, reason: 'schema: /subject' }]);
  assert.equal(outbox.stats().quarantined, 1);
});

test('a quarantined event can be released back into the outbox or purged, and nothing else deletes it', (t) => {
  const outbox = new Outbox(tempDir(t));
  t.after(() => outbox.close());
  const [first, second] = [tap('a'), tap('b')];
  outbox.enqueueMany([first!, second!]);
  outbox.settle([], [
    { id: first!.id, reason: 'x' },
    { id: second!.id, reason: 'y' },
  ]);
  assert.equal(outbox.releaseQuarantined([first!.id, uuidv7()]), 1);
  assert.deepEqual(outbox.after(0, 10).map((row) => row.id), [first!.id]);
  assert.equal(outbox.purgeQuarantined([second!.id]), 1);
  assert.equal(outbox.stats().quarantined, 0);
});

test('a repeated scan within the debounce window is not a second tap, even after the agent restarts', (t) => {
  const dir = tempDir(t);
  let now = Date.parse('2026-11-25T09:00:00Z');
  const clock = () => now;
  const first = new Outbox(dir, clock);
  assert.equal(first.recordTap('door-1', scan('2025CS001'), 30_000).recorded, true);
  now += 5_000;
  assert.equal(first.recordTap('door-1', scan('2025CS001'), 30_000).recorded, false);
  assert.equal(first.recordTap('door-2', scan('2025CS001'), 30_000).recorded, true, 'another door is another tap');
  first.close();

  const reopened = new Outbox(dir, clock);
  t.after(() => reopened.close());
  now += 10_000;
  assert.equal(reopened.recordTap('door-1', scan('2025CS001'), 30_000).recorded, false);
  now += 20_000;
  assert.equal(reopened.recordTap('door-1', scan('2025CS001'), 30_000).recorded, true, 'past the window it counts again');
  assert.equal(reopened.stats().depth, 3);
});

test('rows that cannot be sent are recognised, and the row id is the one sent', () => {
  const id = uuidv7();
  assert.deepEqual(readOutboxRow({ seq: 1, id, body: '{"id":"other","kind":"tap"}' }), { ok: true, event: { id, kind: 'tap' } });
  assert.equal(readOutboxRow({ seq: 2, id, body: '{broken' }).ok, false);
  assert.equal(readOutboxRow({ seq: 3, id, body: '[1,2]' }).ok, false);
  assert.equal(readOutboxRow({ seq: 4, id: 'not-a-uuid', body: '{}' }).ok, false);
});

test('a device log record is recorded once by its device key, and a log read moves the cursor in the same transaction', (t) => {
  const outbox = new Outbox(tempDir(t));
  t.after(() => outbox.close());
  const punch = { method: 'fingerprint' as const, subject: '101', deviceTime: new Date('2026-01-05T09:00:00Z'), deviceKey: 'zk/S1/101/2026-01-05 09:00:00/1/0' };
  assert.equal(outbox.recordTap('door-1', punch, 0).recorded, true);
  assert.deepEqual(outbox.recordTap('door-1', punch, 0), { recorded: false, reason: 'duplicate' });
  const cursor = { serial: 'S1', epoch: 1, position: 2, lastHash: 'h2' };
  assert.equal(outbox.recordLogRead('door-1', [punch, { ...punch, subject: '102', deviceKey: 'zk/S1/102/2026-01-05 09:00:01/1/0' }], cursor), 1);
  assert.deepEqual(outbox.logCursor('door-1'), cursor);
  assert.equal(outbox.stats().depth, 2);
  // After a clear the keys cannot come back, so they are forgotten with the old epoch.
  assert.deepEqual(outbox.startLogEpoch('door-1', 'S1'), { serial: 'S1', epoch: 2, position: 0, lastHash: null });
  assert.equal(outbox.recordTap('door-1', punch, 0).recorded, true);
});

test('a watermark candidate becomes the delivered watermark only once every row before it is acknowledged', (t) => {
  const outbox = new Outbox(tempDir(t));
  t.after(() => outbox.close());
  const events = [tap('a'), tap('b')];
  outbox.enqueueMany(events);
  outbox.noteWatermarkCandidate('door-1', 1_000);
  outbox.enqueue(tap('c'));
  assert.deepEqual(outbox.watermarks(), [{ deviceId: 'door-1', deliveredUpTo: null }]);
  outbox.settle([events[0]!.id], []);
  assert.deepEqual(outbox.watermarks(), [{ deviceId: 'door-1', deliveredUpTo: null }], 'b is still undelivered');
  outbox.settle([events[1]!.id], []);
  assert.deepEqual(outbox.watermarks(), [{ deviceId: 'door-1', deliveredUpTo: 1_000 }], 'c came after the candidate');
  outbox.noteWatermarkCandidate('door-1', 500);
  assert.deepEqual(outbox.watermarks(), [{ deviceId: 'door-1', deliveredUpTo: 1_000 }], 'a watermark never moves back');
});

test('undelivered events leave only by an operator discard, recorded with who, why and how many', (t) => {
  const outbox = new Outbox(tempDir(t));
  t.after(() => outbox.close());
  outbox.enqueueMany([tap('a'), tap('b'), tap('c')]);
  const [first, second] = outbox.after(0, 10);
  assert.throws(() => outbox.discardUndelivered({ fromSeq: first!.seq, toSeq: second!.seq }, 'ops', ' '), /reason/);
  assert.equal(outbox.discardUndelivered({ fromSeq: first!.seq, toSeq: second!.seq }, 'ops@campus', 'test terminal flooded the outbox'), 2);
  assert.equal(outbox.stats().depth, 1);
  assert.deepEqual(outbox.discards().map(({ actor, reason, count, firstSeq, lastSeq }) => ({ actor, reason, count, firstSeq, lastSeq })), [
    { actor: 'ops@campus', reason: 'test terminal flooded the outbox', count: 2, firstSeq: first!.seq, lastSeq: second!.seq },
  ]);
});
