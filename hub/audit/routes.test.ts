import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendAudit } from './append.js';
import { startTestHub } from '../../test/support/hub.js';

test('search by actor, target, action (or prefix) and time, in pages; export as CSV and JSON is itself audited', async (t) => {
  const hub = await startTestHub(t);
  await hub.db.transaction(async (tx) => {
    for (let index = 0; index < 7; index++) {
      await appendAudit(tx, { actor: index % 2 ? 'user:b' : 'user:a', source: 'http', action: index < 4 ? 'leave.apply' : 'leave.approve', target: `leave:${index}`, after: { index }, reason: index === 6 ? '=HYPERLINK("x")' : null });
    }
  });
  const search = async (query: string) => {
    const response = await hub.api(`/api/v1/audit?${query}`);
    assert.equal(response.status, 200, await response.clone().text());
    return (await response.json()) as { items: { target: string }[]; nextCursor: string | null };
  };
  assert.deepEqual((await search('action=leave.approve')).items.map((item) => item.target), ['leave:6', 'leave:5', 'leave:4']);
  assert.deepEqual((await search('actor=user:b&action=leave.*')).items.map((item) => item.target), ['leave:5', 'leave:3', 'leave:1']);
  assert.deepEqual((await search('target=leave:2')).items.length, 1);
  assert.deepEqual((await search(`from=${new Date(Date.now() + 60_000).toISOString()}`)).items, []);
  const first = await search('action=leave.*&limit=4');
  const second = await search(`action=leave.*&limit=4&cursor=${first.nextCursor}`);
  assert.deepEqual([...first.items, ...second.items].map((item) => item.target), ['leave:6', 'leave:5', 'leave:4', 'leave:3', 'leave:2', 'leave:1', 'leave:0']);
  assert.equal(second.nextCursor, null);
  assert.equal((await hub.api('/api/v1/audit?cursor=bm9wZQ')).status, 400);

  const csv = await hub.api('/api/v1/audit/export?format=csv&action=leave.approve');
  assert.equal(csv.status, 200);
  assert.match(csv.headers.get('content-disposition')!, /^attachment; filename="campushub-audit-.*\.csv"$/);
  const lines = (await csv.text()).trimEnd().split('\r\n');
  assert.equal(lines[0], 'id,seq,at,actor,action,target,source,outcome,reason,before,after');
  assert.equal(lines.length, 4);
  assert.ok(lines[1]!.includes(`"'=HYPERLINK(""x"")"`), 'a formula is defused');
  const json = (await (await hub.api('/api/v1/audit/export?format=json&actor=user:a')).json()) as { actor: string }[];
  assert.equal(json.length, 4);
  const exports = await hub.db.query<{ after: { format: string; entries: number } }>(`select after from audit_log where action = 'audit.export' order by id`);
  assert.deepEqual(exports.rows.map((row) => [row.after.format, row.after.entries]), [['csv', 3], ['json', 4]]);
});
