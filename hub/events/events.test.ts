import { test } from 'node:test';
import assert from 'node:assert/strict';
import { uuidv7 } from '../../protocol/index.js';
import { insertEvents } from '../ingest/queries.js';
import type { EventRow } from '../ingest/steps.js';
import { startTestHub, type TestHub } from '../../test/support/hub.js';

interface Page {
  items: { id: string; subject: string; deviceId: string }[];
  nextCursor: string | null;
}

async function seed(hub: TestHub, count: number): Promise<EventRow[]> {
  const base = Date.parse('2026-11-02T09:00:00Z');
  const rows: EventRow[] = Array.from({ length: count }, (_, index) => ({
    id: uuidv7(base + index * 1000),
    campusId: 'main',
    agentId: index % 2 === 0 ? 'agent-a' : 'agent-b',
    deviceId: `door-${index % 3}`,
    kind: 'tap',
    method: 'qr',
    subject: `2025CS${String(index % 5).padStart(3, '0')}`,
    deviceTime: null,
    receivedAt: new Date(base + index * 1000).toISOString(),
    deviceKey: null,
    score: null,
  }));
  await hub.db.transaction((tx) => insertEvents(tx, rows));
  return rows;
}

test('events page newest first with an opaque cursor, visiting every event exactly once', async (t) => {
  const hub = await startTestHub(t);
  const rows = await seed(hub, 23);
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const response: Response = await hub.api(`/api/v1/events?limit=10${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(response.status, 200);
    const page = (await response.json()) as Page;
    seen.push(...page.items.map((item) => item.id));
    cursor = page.nextCursor;
  } while (cursor);
  assert.deepEqual(seen, rows.map((row) => row.id).reverse());
});

test('events filter by agent, device, subject and time range', async (t) => {
  const hub = await startTestHub(t);
  const rows = await seed(hub, 30);
  const get = async (query: string) => ((await (await hub.api(`/api/v1/events?limit=500&${query}`)).json()) as Page).items.map((item) => item.id).sort();
  const expect = (keep: (row: EventRow) => boolean) => rows.filter(keep).map((row) => row.id).sort();
  assert.deepEqual(await get('agentId=agent-a'), expect((row) => row.agentId === 'agent-a'));
  assert.deepEqual(await get('deviceId=door-2&subject=2025CS004'), expect((row) => row.deviceId === 'door-2' && row.subject === '2025CS004'));
  const from = rows[10]!.receivedAt;
  const to = rows[20]!.receivedAt;
  assert.deepEqual(await get(`from=${from}&to=${to}`), expect((row) => row.receivedAt >= from && row.receivedAt < to));
});

test('invalid query parameters get a 400 that names the parameter, and a forged cursor is refused', async (t) => {
  const hub = await startTestHub(t);
  const tooMany = await hub.api('/api/v1/events?limit=501');
  assert.equal(tooMany.status, 400);
  const body = (await tooMany.json()) as { error: string; message: string; details: { path: string }[] };
  assert.equal(body.error, 'invalid_request');
  assert.match(body.message, /limit/);
  const unknown = await hub.api('/api/v1/events?colour=red');
  assert.equal(unknown.status, 400);
  const forged = await hub.api(`/api/v1/events?cursor=${Buffer.from('drop table events').toString('base64url')}`);
  assert.equal(forged.status, 400);
  assert.equal(((await forged.json()) as { error: string }).error, 'invalid_cursor');
});
